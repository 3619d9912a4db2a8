// Reading the scan atlas back (atlas.h).
#include "cli/atlas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

void cli_atlas_model_fields(json_t *doc, const lrp_session *s) {
    const lrp_config *c = &s->m->cfg;
    json_object_set_new(doc, "num_layers", json_integer(c->num_layers));
    json_object_set_new(doc, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(doc, "vocab_size", json_integer(c->vocab_size));
}

// An integer field: 0 and *v set, or -1 (absent or not an integer).
static int int_field(const json_t *d, const char *key, long long *v) {
    json_t *j = json_object_get(d, key);
    if (!json_is_integer(j)) return -1;
    *v = json_integer_value(j);
    return 0;
}

int cli_atlas_open(cli_atlas *a, const char *path, const lrp_session *s) {
    json_error_t je;
    memset(a, 0, sizeof *a);
    a->path = path;
    a->doc = json_load_file(path, 0, &je);
    if (!a->doc)
        return cli_error(1, "--atlas %s:%d: %s%s", path, je.line, je.text,
                         strstr(je.text, "end of file") ? " (the file is cut short)" : "");
    json_t *d = a->doc, *ex = json_object_get(d, "expert"), *win = json_object_get(d, "window");
    long long version = 0, layer = 0, top = 0, windows = 0, tokens = 0;
    if (int_field(d, "atlas", &version) || version != 1 || !json_is_array(json_object_get(d, "neurons")) ||
        !json_is_object(json_object_get(d, "ids")) || int_field(d, "layer", &layer) || int_field(d, "top", &top) ||
        !json_is_string(json_object_get(d, "data")) || !json_is_string(json_object_get(d, "data_format")) ||
        (!json_is_null(ex) && !json_is_integer(ex)) || (!json_is_null(win) && !json_is_integer(win)))
        return cli_error(1, "--atlas %s: not an attnlrp scan atlas (written by scan --neurons all)", path);
    if (int_field(d, "windows", &windows) || int_field(d, "tokens", &tokens) || top < 1 || top > 1 << 20 ||
        layer < 0 || layer > 1 << 20 || windows < 0 || tokens < 0 || (json_is_integer(ex) && json_integer_value(ex) < 0))
        return cli_error(1, "--atlas %s: a broken header (layer, expert, top, windows or tokens)", path);
    a->data = json_string_value(json_object_get(d, "data"));
    a->data_format = json_string_value(json_object_get(d, "data_format"));
    a->layer = (int)layer;
    a->top = (int)top;
    a->expert = json_is_integer(ex) ? (int)json_integer_value(ex) : -1;
    a->window = json_is_integer(win) ? (int)json_integer_value(win) : -1;
    a->windows = (long)windows;
    a->tokens = tokens;
    a->width = (int)json_array_size(json_object_get(d, "neurons"));
    // The corpus's hash and the share scanned (what a scan read from the atlas reports, as a direct scan does)
    const json_t *sha = json_object_get(d, "sha256"), *sh = json_object_get(d, "shard");
    if (json_is_string(sha) && json_string_length(sha) == 64)
        snprintf(a->sha256, sizeof a->sha256, "%s", json_string_value(sha));
    a->shard_k = (int)json_integer_value(json_array_get(sh, 0));
    a->shard_n = json_is_array(sh) ? (int)json_integer_value(json_array_get(sh, 1)) : 1;
    a->windows_in_data = (long)json_integer_value(json_object_get(d, "windows_in_data"));
    const lrp_config *c = &s->m->cfg;
    int W = lrp_latent_width(s->m);
    if (a->layer >= c->num_layers || a->width != W || (a->expert >= 0 && a->expert >= c->num_experts))
        return cli_error(1, "--atlas %s: layer %d with %d neurons%s does not fit %s (%d layers of %d neurons)", path,
                         a->layer, a->width, a->expert >= 0 ? " of an expert" : "", s->model_path, c->num_layers, W);
    // The model's shape, recorded since these fields were added (older atlases: the checks above and the
    // activations recomputed by cli_atlas_neuron).
    static const char *const keys[] = {"num_layers", "hidden_size", "vocab_size"};
    long long want[] = {c->num_layers, c->hidden_size, c->vocab_size};
    for (int k = 0; k < 3; k++) {
        long long v;
        if (json_object_get(d, keys[k]) && (int_field(d, keys[k], &v) || v != want[k]))
            return cli_error(1, "--atlas %s: scanned with another model (%s %lld; %s has %lld)", path, keys[k],
                             int_field(d, keys[k], &v) ? -1 : v, s->model_path, want[k]);
    }
    return 0;
}

int cli_atlas_neuron(const cli_atlas *a, const lrp_session *s, int n, int top, lrp_scan_top *best) {
    lrp_err err;
    memset(best, 0, sizeof *best);
    if (n < 0 || n >= a->width) return cli_error(1, "--neuron %d: out of range (0..%d)", n, a->width - 1);
    if (top > a->top) return cli_error(1, "--top %d: the atlas %s keeps %d windows per neuron", top, a->path, a->top);
    json_t *ids = json_object_get(a->doc, "ids"), *list = json_array_get(json_object_get(a->doc, "neurons"), (size_t)n);
    int n_list = json_is_array(list) ? (int)json_array_size(list) : -1;
    if (n_list < 0 || n_list > a->top)
        return cli_error(1, "--atlas %s: neuron %d: %s", a->path, n,
                         n_list < 0 ? "its list of windows is not an array" : "more windows than the atlas's top");
    if (top > 0 && top < n_list) n_list = top;  // best first: the first `top` entries
    if (lrp_scan_top_init(best, top > 0 ? top : a->top, &err)) return cli_error(1, "%s", err.msg);
    int W = a->width, V = s->m->cfg.vocab_size;
    float *act = NULL;
    int *v = NULL, rc = 0;
    double prev = INFINITY;
    for (int r = 0; r < n_list && !rc; r++) {
        json_t *h = json_array_get(list, (size_t)r);
        json_t *ji = json_array_get(h, 0), *jp = json_array_get(h, 1), *ja = json_array_get(h, 2);
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(ji));
        json_t *arr = json_object_get(ids, key);
        int T = json_is_array(arr) ? (int)json_array_size(arr) : 0;
        long long pos = json_integer_value(jp);
        double stored = json_number_value(ja);
        if (!json_is_array(h) || json_array_size(h) != 3 || !json_is_integer(ji) || json_integer_value(ji) < 0 ||
            !json_is_integer(jp) || !json_is_number(ja) || !isfinite(stored) || stored > prev) {
            rc = cli_error(1, "--atlas %s: neuron %d, entry %d is broken (expected [index, position, activation], "
                              "best first)", a->path, n, r);
            break;
        }
        prev = stored;
        if (T < 1 || T > 1 << 24) {
            rc = cli_error(1, "--atlas %s: neuron %d, entry %d: window %s has no ids", a->path, n, r, key);
            break;
        }
        if (pos < 0 || pos >= T) {
            rc = cli_error(1, "--atlas %s: neuron %d, entry %d: position %lld is outside window %s (%d tokens)",
                           a->path, n, r, pos, key, T);
            break;
        }
        free(v);
        free(act);
        v = malloc((size_t)T * sizeof *v);
        act = malloc((size_t)T * (size_t)W * sizeof *act);
        if (!v || !act) {
            rc = cli_error(1, "out of memory");
            break;
        }
        for (int t = 0; t < T && !rc; t++) {
            json_t *x = json_array_get(arr, (size_t)t);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= V)
                rc = cli_error(1, "--atlas %s: window %s: ids[%d] is not a token id of %s (vocabulary size %d)",
                               a->path, key, t, s->model_path, V);
            else v[t] = (int)json_integer_value(x);
        }
        if (rc) break;
        // The activation again, with this model: the atlas must have been scanned with these weights.
        if (lrp_forward_latent(s->m, v, T, a->layer, a->expert, act, &err)) {
            rc = cli_error(1, "--atlas %s: window %s: %s", a->path, key, err.msg);
            break;
        }
        double got = act[(size_t)pos * (size_t)W + (size_t)n];
        if (!(fabs(got - stored) <= 1e-3 * fmax(1.0, fabs(stored)))) {
            rc = cli_error(1, "--atlas %s: neuron %d, window %s: activation %.6g in the atlas, %.6g with %s (scanned "
                              "with another model)", a->path, n, key, stored, got, s->model_path);
            break;
        }
        if (lrp_scan_top_offer(best, (long)json_integer_value(ji), (int)pos, (float)stored, v, T, &err))
            rc = cli_error(1, "%s", err.msg);
    }
    free(v);
    free(act);
    if (rc) {
        lrp_scan_top_free(best);
        return rc;
    }
    lrp_scan_top_sort(best);
    return 0;
}

void cli_atlas_close(cli_atlas *a) {
    json_decref(a->doc);
    a->doc = NULL;
}
