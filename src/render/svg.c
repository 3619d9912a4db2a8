#include <math.h>
#include <string.h>

#include "render/plot.h"

// Okabe & Ito (2008) colour-universal palette, without its yellow (too pale on white) and black.
static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"};
#define N_PALETTE ((int)(sizeof palette / sizeof palette[0]))

const char *lrp_plot_color(int color) {
    if (color == LRP_PLOT_INK) return "#222222";
    if (color < 0) return "#8a8a8a";
    return palette[color % N_PALETTE];
}

double lrp_plot_ticks(double lo, double hi, int target, double *t0, double *t1) {
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (hi < lo) {
        double s = lo;
        lo = hi;
        hi = s;
    }
    lo = fmax(lo, -1e15), hi = fmin(hi, 1e15);   // the curves are clipped; the axes stay readable
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
    if (target < 2) target = 2;
    double raw = (hi - lo) / target;
    double mag = pow(10, floor(log10(raw)));
    double step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    // Round outwards, with a little slack so that values already on a tick stay there.
    *t0 = step * floor(lo / step + 1e-9);
    *t1 = step * ceil(hi / step - 1e-9);
    return step;
}

// Length of the valid UTF-8 sequence at s (2..4), or 0 when it is not one (overlong forms included).
static int utf8_seq(const unsigned char *s) {
    int n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

// Text content: markup characters escaped, control bytes dropped, invalid UTF-8 as U+FFFD.
static void xml_text(FILE *f, const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    while (s && *s) {
        unsigned c = *s;
        if (c < 0x80) {
            if (c == '&') fputs("&amp;", f);
            else if (c == '<') fputs("&lt;", f);
            else if (c == '>') fputs("&gt;", f);
            else if (c == '"') fputs("&quot;", f);
            else if (c >= 0x20 || c == '\t') fputc((int)c, f);
            s++;
        } else {
            int n = utf8_seq(s);
            if (n) fwrite(s, 1, (size_t)n, f), s += n;
            else fputs("\xef\xbf\xbd", f), s++;
        }
    }
}

// A tick label without float noise: "0.2", not "0.20000000000000001"; "-0" becomes "0".
static void tick_label(char *buf, size_t cap, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (decimals > 6) decimals = 6;
    snprintf(buf, cap, "%.*f", decimals, v);
}

// Layout, in SVG user units.
enum { W = 820, H = 500, LEFT = 78, RIGHT = 250, TOP = 62, BOTTOM = 62 };

void lrp_plot_svg(FILE *f, const lrp_plot *p) {
    const double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    double xlo = INFINITY, xhi = -INFINITY, ylo = 0, yhi = 1;   // 0 and 1 always in view
    for (int i = 0; i < p->n; i++)
        if (isfinite(p->x[i])) xlo = fmin(xlo, p->x[i]), xhi = fmax(xhi, p->x[i]);
    for (int l = 0; l < p->n_lines; l++)
        for (int i = 0; i < p->n; i++) {
            double y = p->lines[l].y[i];
            if (isfinite(y)) ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    if (!(xlo < xhi)) xlo = 0, xhi = 1;
    double x0, x1, y0, y1;
    double xstep = lrp_plot_ticks(xlo, xhi, 5, &x0, &x1);
    double ystep = lrp_plot_ticks(ylo, yhi, 6, &y0, &y1);
#define PX(v) (LEFT + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (TOP + (1 - ((v) - y0) / (y1 - y0)) * ph)

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    if (p->title) {
        fprintf(f, "<text x=\"%d\" y=\"26\" font-size=\"16\" font-weight=\"bold\">", LEFT);
        xml_text(f, p->title);
        fputs("</text>\n", f);
    }
    if (p->subtitle) {
        fprintf(f, "<text x=\"%d\" y=\"45\" fill=\"#555\">", LEFT);
        xml_text(f, p->subtitle);
        fputs("</text>\n", f);
    }

    // Grid and ticks.
    char lab[64];
    fputs("<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n", f);
    int nx = (int)lround((x1 - x0) / xstep), ny = (int)lround((y1 - y0) / ystep);
    for (int i = 0; i <= nx; i++)
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>\n", PX(x0 + i * xstep), TOP,
                PX(x0 + i * xstep), TOP + (int)ph);
    for (int i = 0; i <= ny; i++)
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n", LEFT, PY(y0 + i * ystep), LEFT + (int)pw,
                PY(y0 + i * ystep));
    fputs("</g>\n", f);
    if (y0 < 0 && y1 > 0)   // the zero line, a little stronger
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#b0b0b0\"/>\n", LEFT, PY(0.0),
                LEFT + (int)pw, PY(0.0));
    fputs("<g fill=\"#333\">\n", f);
    for (int i = 0; i <= nx; i++) {
        double v = x0 + i * xstep;
        tick_label(lab, sizeof lab, v, xstep);
        fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", PX(v), TOP + (int)ph + 19, lab);
    }
    for (int i = 0; i <= ny; i++) {
        double v = y0 + i * ystep;
        tick_label(lab, sizeof lab, v, ystep);
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n",
                LEFT - 8, PY(v), lab);
    }
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", LEFT, TOP,
            (int)pw, (int)ph);
    if (p->xlabel) {
        fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">", LEFT + pw / 2, H - 16);
        xml_text(f, p->xlabel);
        fputs("</text>\n", f);
    }
    if (p->ylabel) {
        fprintf(f, "<text transform=\"translate(22 %.2f) rotate(-90)\" text-anchor=\"middle\">", TOP + ph / 2);
        xml_text(f, p->ylabel);
        fputs("</text>\n", f);
    }

    // Curves, clipped to the plot area; a non-finite value breaks the line.
    fprintf(f, "<clipPath id=\"plot-area\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n", LEFT,
            TOP, (int)pw, (int)ph);
    fputs("<g clip-path=\"url(#plot-area)\" fill=\"none\" stroke-width=\"2.2\" stroke-linejoin=\"round\">\n", f);
    for (int l = 0; l < p->n_lines; l++) {
        const lrp_plot_line *ln = &p->lines[l];
        fprintf(f, "<path stroke=\"%s\"%s d=\"", lrp_plot_color(ln->color),
                ln->dashed ? " stroke-dasharray=\"7 4\"" : "");
        int pen_down = 0;
        for (int i = 0; i < p->n; i++) {
            if (!isfinite(ln->y[i]) || !isfinite(p->x[i])) {
                pen_down = 0;
                continue;
            }
            fprintf(f, "%s%.2f %.2f ", pen_down ? "L" : "M", PX(p->x[i]), PY(ln->y[i]));
            pen_down = 1;
        }
        fputs("\"/>\n", f);
    }
    fputs("</g>\n", f);

    // Legend, right of the plot.
    int lx = LEFT + (int)pw + 22, ly = TOP + 8;
    for (int k = 0; k < p->n_keys; k++, ly += 22) {
        const lrp_plot_key *key = &p->keys[k];
        if (!key->label) {
            ly -= 8;   // a short gap between groups
            continue;
        }
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.2\"%s/>\n", lx, ly,
                lx + 30, ly, lrp_plot_color(key->color), key->dashed ? " stroke-dasharray=\"7 4\"" : "");
        fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">", lx + 38, ly);
        xml_text(f, key->label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
#undef PX
#undef PY
}
