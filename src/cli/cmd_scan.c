// attnlrp scan: the windows of a corpus that most activate one MLP neuron, each attributed with the
// neuron as the start scalar (SPEC §3 latent start). Forward passes only while scanning; K backwards.
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/atlas.h"
#include "cli/commands.h"
#include "cli/pool.h"
#include "core/sha256.h"
#include "evaluate/batch.h"
#include "explain/explain.h"
#include "explain/methods.h"
#include "explain/scan.h"
#include "render/render.h"
#include "render/units.h"

static const char scan_usage[] =
    "usage: attnlrp scan [--model PATH] --data CORPUS --layer L --neuron N [--top K] [--window T] [--expert E]\n"
    "                    [--method M] [--format text|json|html] [-o FILE] [--progress] [--shard K/N] [--jobs N]\n"
    "       mpirun -np N attnlrp-mpi scan ...   (the MPI build, make mpi)\n"
    "       attnlrp scan [--model PATH] --data CORPUS --layer L --neurons all [--top K] ... -o ATLAS.json\n"
    "       attnlrp scan [--model PATH] --atlas ATLAS.json [--layer L] --neuron N [--top K] [--method M] [--format ...]\n"
    "\n"
    "Streams a corpus through the model (forward passes only), keeps the K windows in which MLP neuron N of\n"
    "layer L (the input of the down projection) reaches its highest activation at any position, then explains\n"
    "each of them with that activation as the start scalar (explain --latent-start L,P,N).\n"
    "\n"
    "  --data CORPUS   a file ending in .jsonl or .ndjson: one JSON object per line, {\"text\": ...} (encoded\n"
    "                  with the model's special tokens, as explain TEXT) or {\"ids\": [...]}; blank lines are\n"
    "                  skipped; each record is one window, numbered from 0. Any other file: UTF-8 plain text,\n"
    "                  tokenized without special tokens (in blocks of about 64 KiB that end at a line break)\n"
    "                  and cut into windows of T tokens, the tokenizer's leading special tokens (BOS) first\n"
    "                  and counted in T; the last window may be shorter. Windows are numbered from 0.\n"
    "  --layer L       the layer (0-based)\n"
    "  --neuron N      the neuron of its MLP intermediate (0-based)\n"
    "  --top K         windows to keep and explain (default 10); ties go to the lower index\n"
    "  --window T      plain text: tokens per window (default 64); JSONL: records are cut to their first T\n"
    "                  tokens (default: not cut)\n"
    "  --expert E      mixture-of-experts models: the expert whose intermediate holds the neuron\n"
    "  --method M      attnlrp (default), cplrp, gradxinput or gradient\n"
    "  --neurons all   collect the top K of every neuron of the layer in one pass (memory: at most width x K\n"
    "                  windows) and write them, without attributions, to the atlas file -o ATLAS.json\n"
    "  --atlas FILE    read neuron N's top K (at most the atlas's K) from an atlas instead of scanning, then\n"
    "                  explain them as a scan would (the same output); the atlas holds the windows' tokens, so\n"
    "                  the corpus is not needed. It must fit the model (its layers, widths, vocabulary, and each\n"
    "                  window's stored activation recomputed with one forward pass) and --layer L when given\n"
    "  --shard K/N     only the windows whose index mod N is K (0 <= K < N): one task of a job array; each\n"
    "                  shard keeps and attributes its own top K; attnlrp merge joins the shards' --format\n"
    "                  json outputs into the global top K (not with --neurons all)\n"
    "  --jobs N        N processes run the scan's forward passes in parallel (default 1; BLAS threads divided\n"
    "                  among them); the top K is the same as with one (under MPI every rank is one process);\n"
    "                  the K attributions run in the first process\n"
    "  --progress      progress with an ETA and the scan's throughput on stderr (default: when stderr is a terminal)\n"
    "  --help, -h      this help\n";

typedef struct corpus {
    FILE *f;
    const char *path;
    int jsonl;
    long long size, done;  // bytes
    long line;             // JSONL: the current line (1-based)
    int window, cut;       // tokens per window; JSONL: cut records to `window`
    int *prefix, n_prefix; // plain text: the tokenizer's leading special tokens
    int *pend, n_pend, cap_pend, eof;
    char *buf;
    size_t cap;
    long next;             // the index of the next window
    lrp_sha256 sha;        // of every byte read
} corpus;

static int grow_pend(corpus *c, int need) {
    if (need <= c->cap_pend) return 0;
    int cap = c->cap_pend ? c->cap_pend : 1024;
    while (cap < need) cap *= 2;
    int *p = realloc(c->pend, (size_t)cap * sizeof *p);
    if (!p) return -1;
    c->pend = p;
    c->cap_pend = cap;
    return 0;
}

// The leading special tokens the tokenizer adds to a text (BOS): those before the plain encoding of "a".
static int leading_specials(const lrp_tokenizer *tok, int **prefix, int *n, lrp_err *err) {
    int *with = NULL, *plain = NULL, nw = 0, np = 0;
    *prefix = NULL;
    *n = 0;
    if (lrp_tokenizer_encode(tok, "a", 1, 1, &with, &nw, err) || lrp_tokenizer_encode(tok, "a", 1, 0, &plain, &np, err)) {
        free(with);
        return -1;
    }
    for (int p = 0; p + np <= nw; p++)
        if (!memcmp(with + p, plain, (size_t)np * sizeof(int))) {
            *n = p;
            break;
        }
    free(plain);
    *prefix = with;  // its first *n entries
    return 0;
}

// Plain text: reads about 64 KiB up to a line break, checks UTF-8, tokenizes and appends to pend.
// Returns 0, or an exit status after printing the error.
static int read_block(corpus *c, const lrp_tokenizer *tok) {
    size_t want = 65536, len = 0;
    if (c->cap < want + 4096 && !(c->buf = realloc(c->buf, c->cap = want + 4096))) return cli_error(1, "out of memory");
    len = fread(c->buf, 1, want, c->f);
    if (len == want) {
        int ch;
        while ((ch = getc(c->f)) != EOF) {
            if (len + 1 >= c->cap && !(c->buf = realloc(c->buf, c->cap *= 2))) return cli_error(1, "out of memory");
            c->buf[len++] = (char)ch;
            if (ch == '\n') break;
        }
    }
    if (ferror(c->f)) return cli_error(1, "--data %s: read error", c->path);
    if (feof(c->f)) c->eof = 1;
    c->buf[len] = 0;
    lrp_sha256_update(&c->sha, c->buf, len);
    for (size_t i = 0; i < len;) {
        int k = c->buf[i] ? lrp_utf8_char_len((const unsigned char *)c->buf + i) : 0;
        if (k == 0 || i + (size_t)k > len)
            return cli_error(1, "--data %s: byte %lld is not UTF-8 text (0x%02x)", c->path, c->done + (long long)i,
                             (unsigned char)c->buf[i]);
        i += (size_t)k;
    }
    c->done += (long long)len;
    if (!len) return 0;
    int *ids = NULL, n = 0;
    lrp_err err;
    if (lrp_tokenizer_encode(tok, c->buf, len, 0, &ids, &n, &err)) return cli_error(1, "--data %s: %s", c->path, err.msg);
    if (grow_pend(c, c->n_pend + n)) {
        free(ids);
        return cli_error(1, "out of memory");
    }
    memcpy(c->pend + c->n_pend, ids, (size_t)n * sizeof(int));
    c->n_pend += n;
    free(ids);
    return 0;
}

// The next window into *ids (malloc'ed), *T and *index. Returns 1, 0 at the end, or -status.
static int corpus_next(corpus *c, const lrp_session *s, int **ids, int *T, long *index) {
    lrp_err err;
    if (!c->jsonl) {
        int body = c->window - c->n_prefix;
        while (c->n_pend < body && !c->eof) {
            int rc = read_block(c, s->tok);
            if (rc) return -rc;
        }
        if (c->n_pend == 0) return 0;
        int take = c->n_pend < body ? c->n_pend : body;
        if (!(*ids = malloc((size_t)(c->n_prefix + take) * sizeof(int)))) return -cli_error(1, "out of memory");
        memcpy(*ids, c->prefix, (size_t)c->n_prefix * sizeof(int));
        memcpy(*ids + c->n_prefix, c->pend, (size_t)take * sizeof(int));
        memmove(c->pend, c->pend + take, (size_t)(c->n_pend - take) * sizeof(int));
        c->n_pend -= take;
        *T = c->n_prefix + take;
        *index = c->next++;
        return 1;
    }
    for (;;) {
        ssize_t len = getline(&c->buf, &c->cap, c->f);
        if (len < 0) {
            if (ferror(c->f)) return -cli_error(1, "--data %s: read error", c->path);
            return 0;
        }
        c->line++;
        c->done += len;
        lrp_sha256_update(&c->sha, c->buf, (size_t)len);
        int blank = 1;
        for (ssize_t i = 0; i < len && blank; i++) blank = strchr(" \t\r\n", c->buf[i]) != NULL;
        if (blank) continue;
        json_error_t je;
        json_t *rec = json_loadb(c->buf, (size_t)len, 0, &je);
        if (!rec) return -cli_error(1, "--data %s:%ld: %s", c->path, c->line, je.text);
        json_t *text = json_object_get(rec, "text"), *arr = json_object_get(rec, "ids");
        int rc = 0;
        if (!json_is_object(rec) || (!json_is_string(text) && !json_is_array(arr)))
            rc = cli_error(1, "--data %s:%ld: expected an object with \"text\" (a string) or \"ids\" (an array)",
                           c->path, c->line);
        else if (json_is_string(text)) {
            lrp_text_inputs ti = {0};
            if (!s->tok)
                rc = cli_error(1, "--data %s:%ld: \"text\": the model has no tokenizer (give \"ids\")", c->path, c->line);
            else if (lrp_encode_text(s->tok, &s->m->cfg, json_string_value(text), json_string_length(text), NULL, 0,
                                     &ti, &err))
                rc = cli_error(1, "--data %s:%ld: %s", c->path, c->line, err.msg);
            else if (ti.T == 0) rc = cli_error(1, "--data %s:%ld: \"text\" has no tokens", c->path, c->line);
            else {
                *ids = ti.ids;
                *T = ti.T;
                ti.ids = NULL;
            }
            lrp_text_inputs_free(&ti);
        } else {
            size_t n = json_array_size(arr);
            if (n == 0 || n > (1u << 24)) rc = cli_error(1, "--data %s:%ld: \"ids\" is empty", c->path, c->line);
            else if (!(*ids = malloc(n * sizeof(int)))) rc = cli_error(1, "out of memory");
            for (size_t i = 0; !rc && i < n; i++) {
                json_t *v = json_array_get(arr, i);
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7fffffff) {
                    rc = cli_error(1, "--data %s:%ld: \"ids\"[%zu] is not a token id", c->path, c->line, i);
                    free(*ids);
                } else (*ids)[i] = (int)json_integer_value(v);
            }
            if (!rc) *T = (int)n;
        }
        json_decref(rec);
        if (rc) return -rc;
        if (c->cut && *T > c->window) *T = c->window;
        *index = c->next++;
        return 1;
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(const corpus *c, long windows, long long tokens, double t0, int tty, int last) {
    double dt = now_s() - t0, frac = c->size > 0 ? (double)c->done / (double)c->size : 0;
    char eta[32] = "?";
    if (frac > 0 && frac < 1) snprintf(eta, sizeof eta, "%.0fs", dt * (1 - frac) / frac);
    else if (frac >= 1) snprintf(eta, sizeof eta, "0s");
    fprintf(stderr, "%sscan: %3.0f%% %ld windows, %lld tokens, %.0f tokens/s, ETA %s%s", tty ? "\r" : "", 100 * frac,
            windows, tokens, dt > 0 ? (double)tokens / dt : 0, eta, tty && !last ? "\x1b[K" : "\n");
    fflush(stderr);
}

static char **token_bytes(const lrp_tokenizer *tok, const int *ids, int T) {
    char **v = calloc((size_t)T + 1, sizeof *v), buf[256];
    for (int t = 0; v && t < T; t++) {
        if (tok) lrp_tokenizer_token_bytes(tok, ids[t], buf, sizeof buf);
        else snprintf(buf, sizeof buf, "[%d]", ids[t]);
        if (!(v[t] = strdup(buf))) {
            for (int i = 0; i < t; i++) free(v[i]);
            free(v);
            return NULL;
        }
    }
    return v;
}

static void free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

typedef struct result {
    const lrp_scan_hit *hit;
    float *relevance;
    double start_value, relevance_sum;
} result;

static double max_abs(const float *v, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m > 0 ? m : 1;
}

static void put_visible(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\n') fputs("\\n", f);
        else if (*s == '\t') fputs("\\t", f);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\x%02x", (unsigned char)*s);
        else fputc(*s, f);
    }
}

// One result: a header, the window's text coloured by relevance (red for, blue against; on a terminal),
// the activating token in [[ ]] without colour, and its most relevant tokens.
static void render_text_result(FILE *f, int rank, const result *r, char **bytes, int color) {
    const lrp_scan_hit *h = r->hit;
    fprintf(f, "#%d  index %ld, position %d, activation %.6g (relevance sum %.6g)\n", rank + 1, h->index, h->position,
            h->activation, r->relevance_sum);
    lrp_units u;
    if (lrp_units_build(bytes, h->T, NULL, r->relevance, &u)) return;
    double m = 0;
    for (int k = 0; k < u.n; k++) m = fabs(u.relevance[k]) > m ? fabs(u.relevance[k]) : m;
    if (m == 0) m = 1;
    fputs("    ", f);
    for (int k = 0; k < u.n; k++) {
        int here = u.first[k] <= h->position && h->position <= u.last[k];
        if (color) {
            int a = (int)(fmin(fabs(u.relevance[k] / m), 1.0) * 200.0);
            if (u.relevance[k] >= 0) fprintf(f, "\x1b[48;2;255;%d;%dm\x1b[38;2;0;0;0m", 255 - a, 255 - a);
            else fprintf(f, "\x1b[48;2;%d;%d;255m\x1b[38;2;0;0;0m", 255 - a, 255 - a);
            if (here) fputs("\x1b[4m", f);
        } else if (here) fputs("[[", f);
        put_visible(f, u.text[k]);
        if (color) fputs("\x1b[0m", f);
        else if (here) fputs("]]", f);
    }
    fputc('\n', f);
    int order[5], n = h->T < 5 ? h->T : 5;
    lrp_rank_top(r->relevance, h->T, n, order);
    fputs("    most relevant:", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, " %d \"", order[i]);
        put_visible(f, bytes[order[i]]);
        fprintf(f, "\" %.4g%s", r->relevance[order[i]], i + 1 < n ? "," : "\n");
    }
    lrp_units_free(&u);
}

static void render_html_result(FILE *f, int rank, const result *r, char **bytes) {
    const lrp_scan_hit *h = r->hit;
    fprintf(f, "<h2>#%d: index %ld, position %d, activation %.6g</h2>\n<p class=\"s\">relevance sum %.6g</p>\n",
            rank + 1, h->index, h->position, h->activation, r->relevance_sum);
    double m = max_abs(r->relevance, h->T);
    fputs("<div class=\"t\">", f);
    for (int t = 0; t < h->T; t++) {
        double v = r->relevance[t] / m;
        int a = (int)(fmin(fabs(v), 1.0) * 200.0);
        fprintf(f, "<span%s style=\"", t == h->position ? " class=\"act\"" : "");
        if (!isfinite(v)) fputs("background:rgb(128,128,128)", f);
        else if (v >= 0) fprintf(f, "background:rgb(255,%d,%d)", 255 - a, 255 - a);
        else fprintf(f, "background:rgb(%d,%d,255)", 255 - a, 255 - a);
        fprintf(f, "\" title=\"pos %d, id %d, relevance %.6g\">", t, h->ids[t], r->relevance[t]);
        lrp_html_escape(f, bytes[t]);
        fputs("</span>", f);
    }
    fputs("</div>\n", f);
}

// What the output's header says about the scan.
typedef struct scan_info {
    const char *data, *data_format, *method;
    int layer, neuron, expert, window;  // window -1: records not cut
    long windows;
    long long tokens;
    // what attnlrp merge checks (JSON only; sha256 "" for an atlas): the corpus's SHA-256, the shard,
    // the windows of the whole corpus, and the options the top K depends on
    char sha256[65];
    int shard_k, shard_n, top;
    long windows_in_data;
} scan_info;

// Explains each kept window (best first) with the neuron as the latent start and writes the results.
// Returns the exit status.
static int attribute_and_write(const lrp_session *s, lrp_scan_top *best, const scan_info *hi, int meth,
                               const char *format, const char *out_path, int show) {
    lrp_err err;
    cli_output out = {0};
    int rc = 1;
    result *res = calloc((size_t)best->n + 1, sizeof *res);
    if (!res) return cli_error(1, "out of memory");
    double t1 = now_s();
    for (int r = 0; r < best->n; r++) {
        const lrp_scan_hit *h = &best->h[r];
        lrp_explain_opts o;
        lrp_explain_opts_default(&o);
        o.method = (lrp_method)meth;
        o.latent_start[0] = hi->layer;
        o.latent_start[1] = h->position;
        o.latent_start[2] = hi->neuron;
        o.latent_expert = hi->expert;
        lrp_explanation e = {0};
        if (lrp_explain(s->m, h->ids, h->T, &o, &e, &err)) {
            cli_error(1, "window %ld: %s", h->index, err.msg);
            goto done;
        }
        res[r].hit = h;
        res[r].relevance = e.relevance;
        e.relevance = NULL;
        res[r].start_value = e.start_value;
        res[r].relevance_sum = e.relevance_sum;
        lrp_explanation_free(&e);
    }
    if (show) fprintf(stderr, "scan: %d attributions in %.3f s\n", best->n, now_s() - t1);
    if (cli_output_open(&out, out_path)) goto done;
    if (!strcmp(format, "json")) {
        json_t *list = json_array();
        for (int r = 0; r < best->n && list; r++) {
            const lrp_scan_hit *h = res[r].hit;
            json_t *toks = json_array();
            for (int t = 0; t < h->T && toks; t++) {
                char *ts = s->tok ? lrp_token_string(s->tok, h->ids[t]) : NULL;
                json_array_append_new(toks, ts ? lrp_jv_text(ts) : json_null());
                free(ts);
            }
            json_array_append_new(list, json_pack("{s:I, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "index",
                                                  (json_int_t)h->index, "position", h->position, "activation",
                                                  lrp_jv_number(h->activation), "ids", lrp_jv_int_array(h->ids, h->T),
                                                  "tokens", toks ? toks : json_null(), "relevance",
                                                  lrp_jv_float_array(res[r].relevance, h->T), "start_value",
                                                  lrp_jv_number(res[r].start_value), "relevance_sum",
                                                  lrp_jv_number(res[r].relevance_sum)));
        }
        json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:i, s:i, s:o, s:s, s:o, s:I, s:I, s:o}", "attnlrp_scan", 1,
                                "model", s->model_path,
                                "data", hi->data, "data_format", hi->data_format, "layer", hi->layer, "neuron",
                                hi->neuron, "expert", hi->expert >= 0 ? json_integer(hi->expert) : json_null(),
                                "method", hi->method, "window", hi->window < 0 ? json_null() : json_integer(hi->window),
                                "windows", (json_int_t)hi->windows, "tokens", (json_int_t)hi->tokens, "results",
                                list ? list : json_null());
        if (doc && hi->sha256[0]) {
            json_object_set_new(doc, "sha256", json_string(hi->sha256));
            json_object_set_new(doc, "shard", json_pack("[i, i]", hi->shard_k, hi->shard_n));
            json_object_set_new(doc, "windows_in_data", json_integer(hi->windows_in_data));
            json_object_set_new(doc, "options",
                                json_pack("{s:i, s:i, s:o, s:o, s:s, s:i, s:s}", "layer", hi->layer, "neuron",
                                          hi->neuron, "expert", hi->expert >= 0 ? json_integer(hi->expert) : json_null(),
                                          "window", hi->window < 0 ? json_null() : json_integer(hi->window), "method",
                                          hi->method, "top", hi->top, "data_format", hi->data_format));
        }
        if (lrp_jv_dump(out.f, doc, 1)) {
            cli_error(1, "out of memory");
            cli_output_abort(&out);
            goto done;
        }
    } else {
        int html = !strcmp(format, "html");
        int color = !html && out.f == stdout && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        if (html)
            fprintf(out.f, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>attnlrp scan</title>\n"
                           "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}.t{font-family:monospace;"
                           "line-height:1.8;white-space:pre-wrap}.t span{padding:1px 0}.act{outline:2px solid #000}"
                           ".s{color:#555}</style></head><body>\n<h1>");
        fprintf(out.f, "layer %d neuron %d", hi->layer, hi->neuron);
        if (hi->expert >= 0) fprintf(out.f, " (expert %d)", hi->expert);
        fprintf(out.f, ": top %d of %ld %s (%lld tokens) in %s, method %s", best->n, hi->windows,
                strcmp(hi->data_format, "text") ? "records" : "windows", hi->tokens, hi->data, hi->method);
        fputs(html ? "</h1>\n<p class=\"s\">Each window's tokens coloured by their relevance for the neuron's "
                     "activation at the outlined position (red for, blue against; scale per window).</p>\n"
                   : "\n",
              out.f);
        for (int r = 0; r < best->n; r++) {
            char **bytes = token_bytes(s->tok, res[r].hit->ids, res[r].hit->T);
            if (!bytes) {
                cli_error(1, "out of memory");
                cli_output_abort(&out);
                goto done;
            }
            if (html) render_html_result(out.f, r, &res[r], bytes);
            else render_text_result(out.f, r, &res[r], bytes, color);
            free_strings(bytes, res[r].hit->T);
        }
        if (html) fputs("</body></html>\n", out.f);
    }
    rc = cli_output_commit(&out) ? 1 : 0;
done:
    for (int r = 0; r < best->n; r++) free(res[r].relevance);
    free(res);
    return rc;
}

// The atlas (--neurons all): the top K of every neuron of the layer, as JSON (README "Atlas").
static int write_atlas(const char *path, const lrp_session *s, const lrp_scan_top *tops, int W, int top,
                       const scan_info *hi) {
    json_t *neurons = json_array(), *ids = json_object();
    for (int n = 0; n < W && neurons && ids; n++) {
        json_t *list = json_array();
        for (int r = 0; r < tops[n].n && list; r++) {
            const lrp_scan_hit *h = &tops[n].h[r];
            json_array_append_new(list, json_pack("[I, i, o]", (json_int_t)h->index, h->position,
                                                  lrp_jv_number(h->activation)));
            char key[32];
            snprintf(key, sizeof key, "%ld", h->index);
            if (!json_object_get(ids, key)) json_object_set_new(ids, key, lrp_jv_int_array(h->ids, h->T));
        }
        json_array_append_new(neurons, list ? list : json_null());
    }
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:i, s:o, s:i, s:i, s:o, s:I, s:I, s:o, s:o}", "atlas", 1, "model",
                            s->model_path, "data", hi->data, "data_format", hi->data_format, "layer", hi->layer,
                            "expert", hi->expert >= 0 ? json_integer(hi->expert) : json_null(), "width", W, "top", top,
                            "window", hi->window < 0 ? json_null() : json_integer(hi->window), "windows",
                            (json_int_t)hi->windows, "tokens", (json_int_t)hi->tokens, "neurons",
                            neurons ? neurons : json_null(), "ids", ids ? ids : json_null());
    if (doc) {   // the model's shape (checked on reading), and what a scan read from the atlas names
        cli_atlas_model_fields(doc, s);
        json_object_set_new(doc, "sha256", json_string(hi->sha256));
        json_object_set_new(doc, "shard", json_pack("[i, i]", hi->shard_k, hi->shard_n));
        json_object_set_new(doc, "windows_in_data", json_integer(hi->windows_in_data));
    }
    cli_output out = {0};
    if (cli_output_open(&out, path)) {
        json_decref(doc);
        return 1;
    }
    if (lrp_jv_dump(out.f, doc, 1)) {
        cli_output_abort(&out);
        return cli_error(1, "out of memory");
    }
    return cli_output_commit(&out) ? 1 : 0;
}

// ---- the scan's forward passes spread over processes (cli/pool.h) ----
// A task is a window: its index, T and ids; a result the same and, for each neuron kept (one, or every
// neuron with --neurons all), the position of its largest activation and the activation (or an error).

typedef struct {
    int64_t index;
    int32_t T;    // -1: an error message follows instead of the ids
    int32_t n;    // neurons in the result
} window_head;

typedef struct {
    const lrp_session *s;
    int layer, expert, neuron, all, W;
} scan_work;

static char *scan_run(void *work, const char *task, size_t n, size_t *rn) {
    const scan_work *w = work;
    window_head h;
    if (n < sizeof h) return NULL;
    memcpy(&h, task, sizeof h);
    const int *ids = (const int *)(const void *)(task + sizeof h);
    int n_out = w->all ? w->W : 1;
    size_t ids_bytes = (size_t)h.T * sizeof(int), size = sizeof h + ids_bytes + (size_t)n_out * 2 * sizeof(int32_t);
    float *act = malloc((size_t)h.T * (size_t)w->W * sizeof *act);
    char *res = malloc(size > 1100 + sizeof h ? size : 1100 + sizeof h);
    int *aligned = malloc(ids_bytes + 1);
    lrp_err err;
    if (!act || !res || !aligned) {
        free(act), free(res), free(aligned);
        return NULL;
    }
    memcpy(aligned, ids, ids_bytes);
    if (lrp_forward_latent(w->s->m, aligned, h.T, w->layer, w->expert, act, &err)) {
        window_head e = {h.index, -1, 0};
        memcpy(res, &e, sizeof e);
        size_t ml = strlen(err.msg);
        memcpy(res + sizeof e, err.msg, ml);
        *rn = sizeof e + ml;
    } else {
        h.n = n_out;
        memcpy(res, &h, sizeof h);
        memcpy(res + sizeof h, aligned, ids_bytes);
        char *p = res + sizeof h + ids_bytes;
        for (int k = 0; k < n_out; k++) {
            float v = 0;
            int32_t pos = lrp_column_max(act, h.T, w->W, w->all ? k : w->neuron, &v);
            memcpy(p, &pos, sizeof pos);
            memcpy(p + sizeof pos, &v, sizeof v);
            p += sizeof pos + sizeof v;
        }
        *rn = size;
    }
    free(act);
    free(aligned);
    return res;
}

typedef struct {
    corpus *c;
    const lrp_session *s;
    scan_info *hi;
    lrp_scan_top *tops;
    int n_tops, shard_k, shard_n, status, show, tty;
    double t0, last_report;
} scan_ctx;

static int scan_next(void *ctx, char **task, size_t *n) {
    scan_ctx *x = ctx;
    for (;;) {
        int *ids = NULL, T = 0;
        long index = 0;
        int got = x->c ? corpus_next(x->c, x->s, &ids, &T, &index) : 0;
        if (got < 0) {
            x->status = -got;
            return -1;
        }
        if (got == 0) return 0;
        if (index % x->shard_n != x->shard_k) {   // another shard's window
            free(ids);
            continue;
        }
        window_head h = {index, T, 0};
        size_t ids_bytes = (size_t)T * sizeof(int);
        *task = malloc(sizeof h + ids_bytes);
        if (*task) {
            memcpy(*task, &h, sizeof h);
            memcpy(*task + sizeof h, ids, ids_bytes);
            *n = sizeof h + ids_bytes;
        }
        free(ids);
        if (!*task) return cli_error(1, "out of memory"), -1;
        return 1;
    }
}

// A window's maxima, in corpus order, offered to the top K of each neuron.
static int scan_take(void *ctx, const char *res, size_t n) {
    scan_ctx *x = ctx;
    window_head h;
    lrp_err err;
    if (n < sizeof h) return cli_error(1, "scan: a worker's result could not be read"), 2;
    memcpy(&h, res, sizeof h);
    if (h.T < 0) {
        cli_error(1, "--data %s: window %lld: %.*s", x->hi->data, (long long)h.index, (int)(n - sizeof h), res + sizeof h);
        return 2;
    }
    size_t ids_bytes = (size_t)h.T * sizeof(int);
    if (h.n != x->n_tops || n != sizeof h + ids_bytes + (size_t)h.n * 2 * sizeof(int32_t))
        return cli_error(1, "scan: a worker's result could not be read"), 2;
    int *ids = malloc(ids_bytes + 1);
    if (!ids) return cli_error(1, "out of memory"), 2;
    memcpy(ids, res + sizeof h, ids_bytes);
    const char *p = res + sizeof h + ids_bytes;
    for (int k = 0; k < x->n_tops; k++) {
        int32_t pos;
        float v;
        memcpy(&pos, p, sizeof pos);
        memcpy(&v, p + sizeof pos, sizeof v);
        p += sizeof pos + sizeof v;
        if (pos >= 0 && lrp_scan_top_offer(&x->tops[k], (long)h.index, pos, v, ids, h.T, &err)) {
            free(ids);
            return cli_error(1, "%s", err.msg), 2;
        }
    }
    free(ids);
    x->hi->windows++;
    x->hi->tokens += h.T;
    if (x->show && now_s() - x->last_report > (x->tty ? 0.25 : 2.0)) {
        progress(x->c, x->hi->windows, x->hi->tokens, x->t0, x->tty, 0);
        x->last_report = now_s();
    }
    return 0;
}

static int scan_main(int argc, char **argv, cli_par *par) {
    const char *model = NULL, *data = NULL, *format = "text", *out_path = NULL, *method = "attnlrp";
    const char *neurons_arg = NULL, *atlas = NULL;
    int layer = -1, neuron = -1, top = 10, window = 64, expert = -1, have_window = 0, want_progress = 0;
    int have_layer = 0, have_neuron = 0, have_top = 0;
    int shard_k = 0, shard_n = 1;   // --shard K/N: only the windows whose index mod N is K
    int jobs = 1;
    const char *shard = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(scan_usage, stdout);
            return 0;
        }
        if (!strcmp(o, "--progress")) {
            want_progress = 1;
            continue;
        }
        static const char *const opts[] = {"--model", "--data", "--layer", "--neuron", "--top", "--window", "--expert",
                                           "--method", "--format", "-o", "--neurons", "--atlas", "--shard", "--jobs",
                                           NULL};
        int got = cli_option_value(&argc, &argv, &i, "scan", opts, &v);
        if (got == 1) continue;
        if (got) return 2;
        if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--data")) data = v;
        else if (!strcmp(o, "--method")) method = v;
        else if (!strcmp(o, "--format")) format = v;
        else if (!strcmp(o, "-o")) out_path = v;
        else if (!strcmp(o, "--atlas")) atlas = v;
        else if (!strcmp(o, "--jobs")) {
            if (cli_jobs_parse(o, v, &jobs)) return 2;
        }
        else if (!strcmp(o, "--shard")) {
            lrp_err serr;
            if (lrp_shard_parse(v, &shard_k, &shard_n, &serr)) return cli_error(2, "--%s", serr.msg);
            shard = v;
        }
        else if (!strcmp(o, "--neurons")) {
            if (strcmp(v, "all")) return cli_error(2, "--neurons %s: expected all (one neuron: --neuron N)", v);
            neurons_arg = v;
        } else if (!strcmp(o, "--layer")) {
            if (arg_int(o, v, &layer)) return 2;
            have_layer = 1;
        } else if (!strcmp(o, "--neuron")) {
            if (arg_int(o, v, &neuron)) return 2;
            have_neuron = 1;
        } else if (!strcmp(o, "--expert")) {
            if (arg_int(o, v, &expert)) return 2;
            if (expert < 0) return cli_error(2, "--expert %d: must not be negative", expert);
        } else if (!strcmp(o, "--top")) {
            if (arg_int(o, v, &top)) return 2;
            if (top < 1) return cli_error(2, "--top %d: must be at least 1", top);
            have_top = 1;
        } else if (!strcmp(o, "--window")) {
            if (arg_int(o, v, &window)) return 2;
            if (window < 1) return cli_error(2, "--window %d: must be at least 1", window);
            have_window = 1;
        }
    }
    if (atlas) {
        if (data || have_window || expert >= 0 || neurons_arg || shard)
            return cli_error(2, "--atlas: the corpus, window and expert are the atlas's (give --neuron N, and --layer L "
                                "to check the atlas's layer)");
        if (!have_neuron) return cli_error(2, "scan: give the neuron to read from the atlas with --neuron N");
        if (jobs > 1 || par->mpi)
            return cli_error(2, "--atlas: the windows come from the atlas; there is no scan to spread over --jobs or "
                                "MPI ranks (run it in one process)");
    } else {
        if (!data) return cli_error(2, "scan: give the corpus with --data CORPUS (or a scanned --atlas FILE)");
        if (!have_layer || (!have_neuron && !neurons_arg))
            return cli_error(2, "scan: give the neuron with --layer L and --neuron N (or --neurons all)");
        if (have_neuron && neurons_arg) return cli_error(2, "scan: give --neuron N or --neurons all, not both");
        if (neurons_arg && (!out_path || !strcmp(out_path, "-")))
            return cli_error(2, "--neurons all: writes an atlas file; give it with -o FILE");
    }
    if (have_layer && layer < 0) return cli_error(2, "--layer %d: must not be negative", layer);
    if (have_neuron && neuron < 0) return cli_error(2, "--neuron %d: must not be negative", neuron);
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "html"))
        return cli_error(2, "--format %s: expected text, json or html", format);
    int meth;
    lrp_err err;
    if (lrp_method_lookup("method", method, 0, &meth, &err)) return cli_lib_error(2, err.msg);
    if (LRP_METHOD_IS_BASELINE(meth) || meth == LRP_METHOD_ATMAN)
        return cli_error(2, "--method %s: explains an output prediction, not a latent neuron (use attnlrp, cplrp, "
                            "gradxinput or gradient)", method);
    if (cli_par_check_jobs(par, jobs)) return 2;

    lrp_session s = {0};
    corpus c = {0};
    lrp_scan_top *tops = NULL;
    cli_atlas atl = {0};
    int n_tops = 0, synced = 0;   // synced: every rank has reached the start of the scan
    int tty = isatty(STDERR_FILENO), show = want_progress || tty;
    scan_info hi = {.data = data, .method = method, .layer = layer, .neuron = neuron, .expert = expert,
                    .window = window, .shard_k = shard_k, .shard_n = shard_n, .top = top};
    lrp_sha256_init(&c.sha);
    int rc = cli_session_open(&s, model);
    if (rc) goto done;
    rc = 1;
    const lrp_config *cfg = &s.m->cfg;
    if (cfg->image_size > 0 || cfg->task == LRP_TASK_SEQ2SEQ_LM) {
        cli_error(1, "scan: %s is a %s; scan reads token windows of a text model with one stack", s.model_path,
                  cfg->image_size > 0 ? "vision model" : "encoder-decoder");
        goto done;
    }
    int W = lrp_latent_width(s.m);
    if (atlas) {
        n_tops = 1;
        if (!(tops = calloc(1, sizeof *tops))) goto done;
        if ((rc = cli_atlas_open(&atl, atlas, &s))) goto done;
        if (have_layer && layer != atl.layer) {
            rc = cli_error(1, "--layer %d: the atlas %s is of layer %d", layer, atlas, atl.layer);
            goto done;
        }
        hi.data = atl.data;
        hi.data_format = atl.data_format;
        hi.layer = atl.layer;
        hi.expert = atl.expert;
        hi.window = atl.window;
        hi.windows = atl.windows;
        hi.tokens = atl.tokens;
        snprintf(hi.sha256, sizeof hi.sha256, "%s", atl.sha256);
        hi.shard_k = atl.shard_k;
        hi.shard_n = atl.shard_n;
        hi.windows_in_data = atl.windows_in_data;
        if ((rc = cli_atlas_neuron(&atl, &s, neuron, have_top ? top : 0, tops))) goto done;
        hi.top = tops->k;
        rc = attribute_and_write(&s, tops, &hi, meth, format, out_path, show);
        goto done;
    }
    if (layer >= cfg->num_layers) {
        cli_error(1, "--layer %d: out of range (0..%d)", layer, cfg->num_layers - 1);
        goto done;
    }
    if (have_neuron && neuron >= W) {
        cli_error(1, "--neuron %d: out of range (0..%d)", neuron, W - 1);
        goto done;
    }
    if (expert >= 0 && cfg->num_experts <= 0) {
        cli_error(1, "--expert %d: %s has no experts (not a mixture-of-experts model)", expert, cfg->model_type);
        goto done;
    }
    if (expert >= cfg->num_experts && cfg->num_experts > 0) {
        cli_error(1, "--expert %d: out of range (0..%d)", expert, cfg->num_experts - 1);
        goto done;
    }
    size_t dl = strlen(data);
    c.path = data;
    c.jsonl = (dl > 6 && !strcmp(data + dl - 6, ".jsonl")) || (dl > 7 && !strcmp(data + dl - 7, ".ndjson"));
    c.window = window;
    c.cut = have_window;
    hi.data_format = c.jsonl ? "jsonl" : "text";
    if (c.jsonl && !have_window) hi.window = -1;
    struct stat st;
    if (!(c.f = fopen(data, "rb")) || fstat(fileno(c.f), &st) || S_ISDIR(st.st_mode)) {
        cli_error(1, "--data %s: cannot read it", data);
        goto done;
    }
    c.size = st.st_size;
    if (!c.jsonl) {
        if (!s.tok) {
            cli_error(1, "--data %s: plain text needs the model's tokenizer (none beside it); give JSONL with \"ids\"",
                      data);
            goto done;
        }
        if (leading_specials(s.tok, &c.prefix, &c.n_prefix, &err)) {
            cli_error(1, "%s", err.msg);
            goto done;
        }
        if (window <= c.n_prefix) {
            rc = cli_error(2, "--window %d: must be more than the %d special token(s) each window starts with", window,
                           c.n_prefix);
            goto done;
        }
    }
    n_tops = neurons_arg ? W : 1;
    if (!(tops = calloc((size_t)n_tops, sizeof *tops))) {
        cli_error(1, "out of memory");
        goto done;
    }
    for (int n = 0; n < n_tops; n++)
        if (lrp_scan_top_init(&tops[n], top, &err)) {
            cli_error(1, "%s", err.msg);
            goto done;
        }
    synced = 1;
    if (!cli_par_all(par, 1)) goto done;   // a rank could not start: all stop
    cli_par_quiet_end(par);
    double t0 = now_s();
    int each = cli_par_divide_threads(par, jobs);
    scan_work sw = {&s, layer, expert, neuron, neurons_arg != NULL, W};
    scan_ctx sx = {par->rank == 0 ? &c : NULL, &s, &hi, tops, n_tops, shard_k, shard_n, 1, show, tty, t0, t0};
    cli_pool_ops ops = {scan_next, scan_run, scan_take, &sx, &sw, -1, "scan", "window"};
    if (par->rank > 0) {
        cli_pool_serve(&ops, par);
        rc = 0;
        goto done;
    }
    double *cpu = NULL;
    int n_procs = 0, failed = cli_pool_run(&ops, par, jobs, each, &cpu, &n_procs);
    free(cpu);
    if (failed) {
        rc = sx.status;
        goto done;
    }
    hi.windows_in_data = c.next;
    lrp_sha256_hex(&c.sha, hi.sha256);
    double t_scan = now_s() - t0;
    if (show) {
        progress(&c, hi.windows, hi.tokens, t0, tty, 1);
        fprintf(stderr, "scan: %ld windows, %lld tokens in %.3f s (%.0f tokens/s)\n", hi.windows, hi.tokens, t_scan,
                t_scan > 0 ? (double)hi.tokens / t_scan : 0);
    }
    if (hi.windows == 0) {
        cli_error(1, "--data %s: no text (empty corpus)", data);
        goto done;
    }
    for (int n = 0; n < n_tops; n++) lrp_scan_top_sort(&tops[n]);
    if (neurons_arg) rc = write_atlas(out_path, &s, tops, W, top, &hi);
    else rc = attribute_and_write(&s, &tops[0], &hi, meth, format, out_path, show);
done:
    if (!synced && !atlas) cli_par_all(par, 0);   // the ranks that did start stop too
    for (int n = 0; tops && n < n_tops; n++) lrp_scan_top_free(&tops[n]);
    free(tops);
    cli_atlas_close(&atl);
    if (c.f) fclose(c.f);
    free(c.buf);
    free(c.pend);
    free(c.prefix);
    lrp_session_close(&s);
    return rc;
}

int cmd_scan(int argc, char **argv) {
    cli_par par;
    cli_par_init(&par);
    int rc = scan_main(argc, argv, &par);
    cli_par_quiet_end(&par);
    cli_par_finish();
    return rc;
}
