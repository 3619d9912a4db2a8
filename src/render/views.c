// Helpers shared by the views of an explanation: the normalisation scale and the conservation report.
#include <math.h>

#include "render/render.h"

const char *lrp_normalize_name(int normalize) {
    return normalize == LRP_NORMALIZE_MAX ? "max" : normalize == LRP_NORMALIZE_SUM ? "sum" : "none";
}

double lrp_normalize_scale(int normalize, const double *v, int n, const double *w, int m) {
    if (normalize == LRP_NORMALIZE_NONE) return 1;
    double s = 0;
    for (int k = 0; k < 2; k++) {
        const double *x = k ? w : v;
        int len = k ? m : n;
        for (int i = 0; x && i < len; i++) {
            if (!isfinite(x[i])) continue;
            if (normalize == LRP_NORMALIZE_MAX) s = fabs(x[i]) > s ? fabs(x[i]) : s;
            else s += fabs(x[i]);
        }
    }
    return s > 0 ? s : 1;
}

// Σ over positions of the residual relevance after block l.
static double layer_sum(const lrp_explanation *e, int l) {
    double s = 0;
    for (int t = 0; t < e->T; t++) s += e->residual_relevance[(size_t)l * e->T + t];
    return s;
}

void lrp_render_json_conservation(FILE *f, const lrp_explanation *e) {
    double ref = lrp_conserved_value(e);  // start_value, or seed_value for logprob/prob scores
    fputs(", \"conservation\": {\"relevance_sum\": ", f);
    lrp_json_number(f, e->relevance_sum);
    fputs(", \"start_value\": ", f);
    lrp_json_number(f, e->start_value);
    if (ref != e->start_value) {
        fputs(", \"seed_value\": ", f);
        lrp_json_number(f, ref);
    }
    fputs(", \"ratio\": ", f);
    lrp_json_number(f, ref != 0 ? e->relevance_sum / ref : NAN);
    if (e->residual_relevance) {
        // Relevance flows from the output back to the input: a block receives relevance_out at its
        // output and passes relevance_in to its input (block 0: the embeddings, relevance_sum).
        fputs(", \"per_layer\": [", f);
        for (int l = 0; l < e->n_layers; l++) {
            double out = layer_sum(e, l), in = l ? layer_sum(e, l - 1) : e->relevance_sum;
            fprintf(f, "%s{\"layer\": %d, \"relevance_in\": ", l ? ", " : "", l);
            lrp_json_number(f, in);
            fputs(", \"relevance_out\": ", f);
            lrp_json_number(f, out);
            fputs(", \"lost_share\": ", f);
            lrp_json_number(f, ref != 0 ? (out - in) / ref : NAN);
            fputc('}', f);
        }
        fputc(']', f);
        if (e->latent_start[0] < 0 && e->n_layers > 0) {
            double in = layer_sum(e, e->n_layers - 1);
            fputs(", \"head\": {\"relevance_in\": ", f);
            lrp_json_number(f, in);
            fputs(", \"relevance_out\": ", f);
            lrp_json_number(f, ref);
            fputs(", \"lost_share\": ", f);
            lrp_json_number(f, ref != 0 ? (ref - in) / ref : NAN);
            fputc('}', f);
        }
    }
    fputc('}', f);
}
