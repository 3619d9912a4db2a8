#include "evaluate/runner.h"

#include <math.h>
#include <stdio.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "explain/explain.h"
#include "explain/methods.h"
#include "inputs/image.h"
#include "inputs/text.h"

void lrp_eval_opts_default(lrp_eval_opts *o) {
    memset(o, 0, sizeof *o);
    lrp_explain_opts_default(&o->params);
    for (int i = 0; i < lrp_methods_count() && o->n_methods < LRP_EVAL_MAX_METHODS; i++)
        if (!lrp_method_at(i)->gamma && !lrp_method_at(i)->extra) o->methods[o->n_methods++] = lrp_method_at(i)->id;
    o->steps = 20;
    o->gamma_conv = 0.25;
    o->gamma_lin = 0.05;
    o->span_field = "span";
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- the model with some tokens removed ----

typedef struct {
    unsigned char *mask;
    double logit;
} cached_logit;

typedef struct {
    const lrp_model *m;
    lrp_inputs in;             // the record's inputs; embed_scale points at scale (images: pixels at pixels)
    int units;                 // what is removed: tokens (T) or image patches
    float *scale;              // [T] scratch
    const float *pixels0;      // images: the unperturbed input [C, S, S]
    float *pixels;             // images: scratch of the same size
    int position, target;
    float *logits;             // [n_out] scratch
    cached_logit *cache;       // masks already evaluated for this record (shared by every method)
    int n_cache, cap_cache;
    long long forwards;
} perturb_ctx;

static void cache_clear(perturb_ctx *c) {
    for (int i = 0; i < c->n_cache; i++) free(c->cache[i].mask);
    c->n_cache = 0;
}

// An image with the marked patches set to 0, the normalised mean (the AttnLRP paper's patch flipping).
static void remove_patches(perturb_ctx *c, const unsigned char *drop) {
    const lrp_config *cfg = &c->m->cfg;
    int C = cfg->num_channels, S = cfg->image_size, p = cfg->patch_size, side = S / p;
    memcpy(c->pixels, c->pixels0, (size_t)C * S * S * sizeof(float));
    for (int k = 0; k < c->units; k++) {
        if (!drop[k]) continue;
        int y0 = (k / side) * p, x0 = (k % side) * p;
        for (int ch = 0; ch < C; ch++)
            for (int i = 0; i < p; i++) memset(c->pixels + ((size_t)ch * S + y0 + i) * S + x0, 0, (size_t)p * sizeof(float));
    }
}

static int perturbed_logit(const unsigned char *drop, void *ctx, double *logit, lrp_err *err) {
    perturb_ctx *c = ctx;
    int T = c->units;
    for (int i = 0; i < c->n_cache; i++)
        if (!memcmp(c->cache[i].mask, drop, (size_t)T)) {
            *logit = c->cache[i].logit;
            return 0;
        }
    lrp_inputs in = c->in;
    if (c->pixels0) {
        remove_patches(c, drop);
        in.pixels = c->pixels;
    } else {
        for (int t = 0; t < T; t++) c->scale[t] = drop[t] ? 0.0f : 1.0f;
        in.embed_scale = c->scale;
    }
    if (lrp_forward_outputs(c->m, &in, c->position, NULL, 0, c->logits, err)) return -1;
    c->forwards++;
    *logit = c->logits[c->target];
    if (c->n_cache == c->cap_cache) {
        int cap = c->cap_cache ? 2 * c->cap_cache : 64;
        cached_logit *nc = realloc(c->cache, (size_t)cap * sizeof *nc);
        if (!nc) return 0;   // no cache entry; the value is still right
        c->cache = nc;
        c->cap_cache = cap;
    }
    unsigned char *mask = malloc((size_t)T);
    if (!mask) return 0;
    memcpy(mask, drop, (size_t)T);
    c->cache[c->n_cache].mask = mask;
    c->cache[c->n_cache++].logit = *logit;
    return 0;
}

static int decode_no_specials(const int *ids, int n, char **text, void *ctx, lrp_err *err) {
    return lrp_tokenizer_decode(ctx, ids, n, 1, text, err);
}

// ---- one record ----

// "name: message" -> "\"name\": message" (a library parameter becomes the record's JSON field).
static void quote_field(lrp_err *err) {
    char *colon = strchr(err->msg, ':');
    size_t n = colon ? (size_t)(colon - err->msg) : 0;
    if (!colon || n > 16 || strlen(err->msg) + 2 >= sizeof err->msg) return;
    memmove(err->msg + n + 2, colon, strlen(colon) + 1);
    memmove(err->msg + 1, err->msg, n);
    err->msg[0] = '"';
    err->msg[n + 1] = '"';
}

static void record_result_free(lrp_eval_record_result *r, int n_methods) {
    free(r->span_tokens);
    for (int k = 0; k < n_methods; k++) lrp_eval_result_free(&r->res[k]);
    memset(r, 0, sizeof *r);
}

// The span's tokens: in_span[T] and out->span_tokens.
static int map_span(const lrp_tokenizer *tok, const lrp_eval_record *r, const char *span_field, const int *ids, int T,
                    const unsigned char *removable, unsigned char *in_span, lrp_eval_record_result *out, lrp_err *err) {
    if (r->text_pair) return lrp_fail(err, "\"%s\": spans are not supported with \"text_pair\"", span_field);
    int *cs = malloc((size_t)T * sizeof *cs), *ce = malloc((size_t)T * sizeof *ce), rc = -1;
    if (!cs || !ce) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    if (lrp_eval_token_offsets(ids, T, r->text, r->text_len, decode_no_specials, (void *)tok, cs, ce, err)) {
        char field[300];
        snprintf(field, sizeof field, "\"%s\"", span_field);
        lrp_fail_prefix(err, field);
        goto done;
    }
    out->n_span_tokens = lrp_eval_span_tokens(cs, ce, removable, T, r->span[0], r->span[1], in_span);
    if (out->n_span_tokens == 0) {
        lrp_fail(err, "\"%s\" [%d, %d] covers no token", span_field, r->span[0], r->span[1]);
        goto done;
    }
    out->span_tokens = malloc((size_t)out->n_span_tokens * sizeof(int));
    if (!out->span_tokens) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    for (int t = 0, k = 0; t < T; t++)
        if (in_span[t]) out->span_tokens[k++] = t;
    rc = 0;
done:
    free(cs);
    free(ce);
    return rc;
}

// The explanation options of a method slot: its rules, and the γ-rule for the "+gamma" variants.
static void method_opts(const lrp_eval_opts *o, int method, lrp_explain_opts *eo) {
    const lrp_method_info *info = lrp_method_by_id(method);
    lrp_explain_opts_default(eo);
    eo->steps = o->params.steps;
    eo->samples = o->params.samples;
    eo->noise = o->params.noise;
    eo->seed = o->params.seed;
    eo->quadrature = o->params.quadrature;
    eo->atman_factor = o->params.atman_factor;
    eo->atman_threshold = o->params.atman_threshold;
    eo->softmax_rule = o->params.softmax_rule;
    eo->max_memory = o->params.max_memory;
    eo->method = (lrp_method)info->rules;
    if (info->gamma) {
        eo->gamma_conv = o->gamma_conv;
        eo->gamma_lin = o->gamma_lin;
    }
}

// Every method's relevance over the record's n units (tokens or patches) and its metrics, into out->res.
// pc holds the inputs, the explained position and target; rel is scratch of n floats.
static int score_methods(const lrp_model *m, const lrp_eval_opts *o, perturb_ctx *pc, uint64_t record_key, int n,
                         const unsigned char *removable, const unsigned char *in_span, float *rel,
                         lrp_eval_record_result *out, lrp_err *err) {
    for (int k = 0; k < o->n_methods; k++) {
        int method = o->methods[k];
        double t0 = now_seconds();
        int passes_f = 0, passes_b = 0;
        if (method == LRP_METHOD_RANDOM) {
            lrp_eval_random_relevance(o->seed, record_key, rel, n);
        } else {
            lrp_explain_opts eo;
            lrp_explanation e;
            method_opts(o, method, &eo);
            eo.target = out->target;
            eo.position = out->position;
            if (lrp_explain_inputs(m, &pc->in, &eo, &e, err)) return -1;
            memcpy(rel, e.relevance, (size_t)n * sizeof *rel);
            passes_f = e.forward_passes;
            passes_b = e.backward_passes;
            lrp_explanation_free(&e);
        }
        double secs = now_seconds() - t0;
        if (lrp_eval_score(rel, removable, in_span, n, o->steps, out->target_logit, perturbed_logit, pc, &out->res[k],
                           err))
            return lrp_fail_prefix(err, lrp_method_by_id(method)->name);
        out->res[k].seconds = secs;
        out->res[k].forward_passes = passes_f;
        out->res[k].backward_passes = passes_b;
    }
    return 0;
}

// The unit of cost: one unperturbed forward pass of the record, timed after the methods ran (warm
// caches and arena, as the explanations before it had them).
static int time_forward(const lrp_model *m, perturb_ctx *pc, lrp_eval_record_result *out, lrp_err *err) {
    double t0 = now_seconds();
    if (lrp_forward_outputs(m, &pc->in, pc->position, NULL, 0, pc->logits, err)) return -1;
    out->forward_seconds = now_seconds() - t0;
    return 0;
}

// One image record: {"image": path, "label": class}. Relevance per patch; the curves remove patches.
static int eval_image_record(const lrp_model *m, const lrp_eval_opts *o, perturb_ctx *pc, const lrp_eval_record *r,
                             int line_no, uint64_t record_key, lrp_eval_record_result *out, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int side = c->image_size / c->patch_size, N = side * side, rc = -1;
    char pre[1200];
    snprintf(pre, sizeof pre, "%s/preprocessor_config.json", m->path);
    lrp_image_spec spec = {c->num_channels, c->image_size, c->image_size};
    lrp_image img = {0};
    unsigned char *removable = malloc((size_t)N);
    float *rel = malloc((size_t)N * sizeof *rel);
    if (!removable || !rel) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    if (lrp_image_load(r->image, &spec, access(pre, F_OK) == 0 ? pre : NULL, &img, err)) {
        lrp_fail_prefix(err, "\"image\"");
        goto done;
    }
    memset(removable, 1, (size_t)N);
    out->T = N;
    out->position = -1;
    if (r->target) {
        if (lrp_resolve_target(c, NULL, "\"label\"", r->target, &out->target, err)) goto done;
        out->target_given = 1;
    }
    size_t n_px = (size_t)img.channels * img.height * img.width;
    pc->pixels = malloc(n_px * sizeof(float));
    if (!pc->pixels) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    cache_clear(pc);
    pc->in = (lrp_inputs){.pixels = img.x, .channels = img.channels, .height = img.height, .width = img.width};
    pc->pixels0 = img.x;
    pc->units = N;
    pc->position = -1;
    if (lrp_forward_outputs(m, &pc->in, -1, NULL, 0, pc->logits, err)) goto done;
    lrp_rank_top(pc->logits, c->n_labels, 1, &out->prediction);
    if (!out->target_given) out->target = out->prediction;
    pc->target = out->target;
    out->target_logit = pc->logits[out->target];
    if (score_methods(m, o, pc, record_key, N, removable, NULL, rel, out, err) || time_forward(m, pc, out, err)) goto done;
    rc = 0;
done:
    if (rc) record_result_free(out, o->n_methods);
    out->line = line_no;
    lrp_image_free(&img);
    free(pc->pixels);
    pc->pixels = NULL;
    pc->pixels0 = NULL;
    free(removable);
    free(rel);
    return rc;
}

// The random baseline's stream for a record: FNV-1a of the record's bytes, so that a record draws the
// same values wherever it stands in the file (results do not depend on the order of the records).
static uint64_t record_key(const char *line, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)line[i]) * 0x100000001b3ull;
    return h;
}

// Every metric of one record for every method. Returns 0, or -1 with err (the record is bad).
static int eval_record(const lrp_model *m, const lrp_tokenizer *tok, const lrp_eval_opts *o, perturb_ctx *pc,
                       const char *line, size_t len, int line_no, lrp_eval_record_result *out, lrp_err *err) {
    const char *span_field = o->span_field ? o->span_field : "span";
    memset(out, 0, sizeof *out);
    out->line = line_no;
    lrp_eval_record r;
    if (lrp_eval_parse_record(line, len, span_field, &r, err)) return -1;
    if (m->cfg.image_size > 0 || r.image) {
        int irc = r.image && m->cfg.image_size > 0 ? eval_image_record(m, o, pc, &r, line_no, record_key(line, len), out, err)
                  : r.image ? lrp_fail(err, "\"image\": %s reads text, not images", m->cfg.model_type)
                            : lrp_fail(err, "no \"image\" field (%s is an image classifier)", m->cfg.model_type);
        lrp_eval_record_free(&r);
        return irc;
    }
    lrp_text_inputs ti = {0};
    int rc = -1, T = 0;
    unsigned char *removable = NULL, *in_span = NULL;
    float *rel = NULL;
    if (lrp_encode_text(tok, &m->cfg, r.text, r.text_len, r.text_pair, r.pair_len, &ti, err)) {
        quote_field(err);   // "text: ..." -> "\"text\": ...": the record's fields
        goto done;
    }
    T = out->T = ti.T;
    removable = malloc((size_t)T);
    in_span = calloc((size_t)T, 1);
    rel = malloc((size_t)T * sizeof *rel);
    pc->scale = malloc((size_t)T * sizeof *pc->scale);
    if (!removable || !in_span || !rel || !pc->scale) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    int n_removable = 0;
    for (int t = 0; t < T; t++) n_removable += removable[t] = !lrp_tokenizer_is_special(tok, ti.ids[t]);
    if (n_removable == 0) {
        lrp_fail(err, "\"text\" has no tokens besides special ones");
        goto done;
    }
    if (r.has_span && map_span(tok, &r, span_field, ti.ids, T, removable, in_span, out, err)) goto done;
    int seq2seq = m->cfg.task == LRP_TASK_SEQ2SEQ_LM, start_token = m->cfg.decoder_start_token_id;
    if (r.target && seq2seq) {
        // encoder-decoders: the answer's first token, predicted after the decoder start token
        int *aid = NULL, na = 0;
        if (lrp_tokenizer_encode(tok, r.target, strlen(r.target), 0, &aid, &na, err)) {
            lrp_fail_prefix(err, "\"target\"");
            goto done;
        }
        if (na > 0) out->target = aid[0];
        free(aid);
        if (na == 0) {
            lrp_fail(err, "\"target\" \"%s\" has no tokens", r.target);
            goto done;
        }
        out->target_given = 1;
    } else if (r.target) {
        if (lrp_resolve_target(&m->cfg, tok, "\"target\"", r.target, &out->target, err)) goto done;
        out->target_given = 1;
    }
    if (seq2seq) {
        out->position = 0;   // the decoder's first position (its input is the start token)
    } else if (lrp_default_position(&m->cfg, tok, ti.ids, T, &out->position, err)) {
        lrp_fail(err, "\"text\" has no mask token: a masked LM explains the token at the first mask");
        goto done;
    }

    // The unperturbed prediction: the default target and the reference logit of the curves.
    cache_clear(pc);
    pc->in = (lrp_inputs){.ids = ti.ids, .T = T, .token_types = ti.token_types};
    if (seq2seq) {
        pc->in.decoder_ids = &start_token;
        pc->in.decoder_T = 1;
    }
    pc->units = T;
    pc->position = out->position;
    if (lrp_forward_outputs(m, &pc->in, pc->position, NULL, 0, pc->logits, err)) goto done;
    int n_out = lrp_model_n_outputs(m);
    lrp_rank_top(pc->logits, n_out, 1, &out->prediction);
    if (!out->target_given) out->target = out->prediction;
    if (out->target < 0 || out->target >= n_out) {
        lrp_fail(err, "\"target\" id %d is outside the model's outputs (%d)", out->target, n_out);
        goto done;
    }
    pc->target = out->target;
    out->target_logit = pc->logits[out->target];

    if (score_methods(m, o, pc, record_key(line, len), T, removable, r.has_span ? in_span : NULL, rel, out, err) ||
        time_forward(m, pc, out, err))
        goto done;
    rc = 0;
done:
    if (rc) record_result_free(out, o->n_methods);
    out->line = line_no;
    lrp_eval_record_free(&r);
    lrp_text_inputs_free(&ti);
    free(removable);
    free(in_span);
    free(rel);
    free(pc->scale);
    pc->scale = NULL;
    return rc;
}

// ---- summaries ----

static int summarize(const lrp_eval_report *rep, lrp_eval_summary *ms, int k) {
    int n = rep->n_records, S = rep->steps + 1;
    memset(ms, 0, sizeof *ms);
    ms->method = rep->methods[k];
    ms->n = n;
    double *v = calloc((size_t)(n ? n : 1), sizeof *v);
    ms->mean_morf = calloc((size_t)S, sizeof(double));
    ms->mean_lerf = calloc((size_t)S, sizeof(double));
    if (!v || !ms->mean_morf || !ms->mean_lerf) {
        free(v);
        return -1;
    }
#define STATS_OF(field, expr)                                                     \
    do {                                                                          \
        for (int i = 0; i < n; i++) {                                             \
            const lrp_eval_result *r = &rep->records[i].res[k];                   \
            (void)r;                                                              \
            v[i] = (expr);                                                        \
        }                                                                         \
        ms->field = lrp_eval_stats_of(v, n);                                      \
    } while (0)
    STATS_OF(top1, r->has_span ? (double)r->top1_in_span : NAN);
    STATS_OF(iou, r->has_span ? r->iou : NAN);
    STATS_OF(morf, r->auc_morf);
    STATS_OF(lerf, r->auc_lerf);
    STATS_OF(delta, r->delta_a);
    STATS_OF(seconds, r->seconds);
    // The records are the same for every method, so differences are paired: a much tighter interval
    // than comparing the two means' intervals.
    STATS_OF(first_minus, rep->records[i].res[0].delta_a - r->delta_a);
#undef STATS_OF
    free(v);
    double fwd = 0, passes_f = 0, passes_b = 0;
    for (int i = 0; i < n; i++) {
        fwd += rep->records[i].forward_seconds;
        passes_f += rep->records[i].res[k].forward_passes;
        passes_b += rep->records[i].res[k].backward_passes;
    }
    ms->forward_multiple = fwd > 0 ? ms->seconds.mean / (fwd / n) : NAN;
    ms->forward_passes = passes_f / n;
    ms->backward_passes = passes_b / n;
    for (int i = 0; i < n; i++) {
        const lrp_eval_result *r = &rep->records[i].res[k];
        if (!r->perturbed) continue;
        ms->n_perturbed++;
        for (int s = 0; s < S; s++) ms->mean_morf[s] += r->morf[s], ms->mean_lerf[s] += r->lerf[s];
    }
    for (int s = 0; s < S; s++) {
        ms->mean_morf[s] = ms->n_perturbed ? ms->mean_morf[s] / ms->n_perturbed : NAN;
        ms->mean_lerf[s] = ms->n_perturbed ? ms->mean_lerf[s] / ms->n_perturbed : NAN;
    }
    return 0;
}

// ---- the run ----

static int check_opts(const lrp_model *m, const lrp_eval_opts *o, lrp_err *err) {
    if (o->n_methods < 1 || o->n_methods > LRP_EVAL_MAX_METHODS)
        return lrp_fail(err, "methods: expected 1..%d methods", LRP_EVAL_MAX_METHODS);
    for (int k = 0; k < o->n_methods; k++) {
        const lrp_method_info *info = lrp_method_by_id(o->methods[k]);
        if (!info) return lrp_fail(err, "methods: unknown method id %d", o->methods[k]);
        if (info->gamma && m->cfg.image_size <= 0)
            return lrp_fail(err, "methods: %s is for Vision Transformers; %s is a text model", info->name,
                            m->cfg.model_type);
    }
    if (!(o->gamma_conv >= 0 && o->gamma_lin >= 0 && o->gamma_conv < 1e6 && o->gamma_lin < 1e6))
        return lrp_fail(err, "gamma %g,%g: the values must be finite and not negative", o->gamma_conv, o->gamma_lin);
    if (o->steps < 1 || o->steps > 10000) return lrp_fail(err, "steps %d: expected 1..10000", o->steps);
    return 0;
}

int lrp_evaluate(const lrp_model *m, const lrp_tokenizer *tok, const lrp_eval_data *d, const lrp_eval_opts *o,
                 lrp_eval_report *out, lrp_err *err) {
    memset(out, 0, sizeof *out);
    if (check_opts(m, o, err)) return -1;
    if (!tok && m->cfg.image_size <= 0)
        return lrp_fail(err, "tokenizer: the model has no tokenizer (evaluation reads text)");
    out->task = m->cfg.task;
    out->images = m->cfg.image_size > 0;
    out->steps = o->steps;
    out->n_methods = o->n_methods;
    memcpy(out->methods, o->methods, sizeof out->methods);
    out->n_total = o->limit > 0 && o->limit < d->n ? o->limit : d->n;
    perturb_ctx pc = {.m = m};
    pc.logits = malloc((size_t)lrp_model_n_outputs(m) * sizeof(float));
    out->records = calloc((size_t)(out->n_total ? out->n_total : 1), sizeof *out->records);
    out->bad = calloc((size_t)(out->n_total ? out->n_total : 1), sizeof *out->bad);
    int rc = -1;
    if (!pc.logits || !out->records || !out->bad) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < out->n_total; i++) {
        lrp_err rerr;
        lrp_eval_record_result *r = &out->records[out->n_records];
        const lrp_eval_bad *bad = NULL;
        if (eval_record(m, tok, o, &pc, d->lines[i], d->line_len[i], d->line_no[i], r, &rerr) == 0) {
            out->n_records++;
            out->n_with_span += r->span_tokens != NULL;
            if (r->target_given) out->n_targets_given++, out->n_targets_predicted += r->prediction == r->target;
        } else {
            lrp_eval_bad *b = &out->bad[out->n_bad++];
            b->line = d->line_no[i];
            snprintf(b->msg, sizeof b->msg, "%s", rerr.msg);
            bad = b;
        }
        if (o->progress) o->progress(i + 1, out->n_total, bad, o->progress_ctx);
        if (bad && o->stop_at_bad) {
            out->stopped = 1;
            break;
        }
    }
    out->forwards = pc.forwards;
    if (out->n_records > 0 && !out->stopped)
        for (int k = 0; k < o->n_methods; k++)
            if (summarize(out, &out->summary[k], k)) {
                lrp_fail(err, "out of memory");
                goto done;
            }
    rc = 0;
done:
    cache_clear(&pc);
    free(pc.cache);
    free(pc.logits);
    if (rc) lrp_eval_report_free(out);
    return rc;
}

void lrp_eval_report_free(lrp_eval_report *r) {
    for (int i = 0; i < r->n_records; i++) record_result_free(&r->records[i], r->n_methods);
    for (int k = 0; k < LRP_EVAL_MAX_METHODS; k++) free(r->summary[k].mean_morf), free(r->summary[k].mean_lerf);
    free(r->records);
    free(r->bad);
    memset(r, 0, sizeof *r);
}

// ---- a report built record by record ----

int lrp_eval_report_begin(lrp_eval_report *r, lrp_task task, int images, const lrp_eval_opts *o, lrp_err *err) {
    memset(r, 0, sizeof *r);
    if (o->n_methods < 1 || o->n_methods > LRP_EVAL_MAX_METHODS)
        return lrp_fail(err, "methods: expected 1..%d methods", LRP_EVAL_MAX_METHODS);
    if (o->steps < 1 || o->steps > 10000) return lrp_fail(err, "steps %d: expected 1..10000", o->steps);
    r->task = task;
    r->images = images;
    r->steps = o->steps;
    r->n_methods = o->n_methods;
    memcpy(r->methods, o->methods, sizeof r->methods);
    return 0;
}

// The arrays grow to the next power of two when their count reaches one.
static int grow(void **p, int n, size_t size) {
    if (n > 0 && (n & (n - 1))) return 0;
    void *g = realloc(*p, (size_t)(n ? 2 * n : 1) * size);
    if (!g) return -1;
    *p = g;
    return 0;
}

int lrp_eval_report_add(lrp_eval_report *r, lrp_eval_record_result *rec, lrp_err *err) {
    if (grow((void **)&r->records, r->n_records, sizeof *r->records)) return lrp_fail(err, "out of memory");
    r->records[r->n_records++] = *rec;
    r->n_with_span += rec->span_tokens != NULL;
    if (rec->target_given) r->n_targets_given++, r->n_targets_predicted += rec->prediction == rec->target;
    memset(rec, 0, sizeof *rec);
    return 0;
}

int lrp_eval_report_add_bad(lrp_eval_report *r, int line, const char *msg, lrp_err *err) {
    if (grow((void **)&r->bad, r->n_bad, sizeof *r->bad)) return lrp_fail(err, "out of memory");
    lrp_eval_bad *b = &r->bad[r->n_bad++];
    b->line = line;
    snprintf(b->msg, sizeof b->msg, "%s", msg);
    return 0;
}

int lrp_eval_report_end(lrp_eval_report *r, lrp_err *err) {
    if (r->n_records > 0 && !r->stopped)
        for (int k = 0; k < r->n_methods; k++)
            if (summarize(r, &r->summary[k], k)) return lrp_fail(err, "out of memory");
    return 0;
}

// A number written by lrp_jv_number: a real, an integer, or null for NaN.
static int json_num(const json_t *o, const char *key, double *v, lrp_err *err) {
    const json_t *x = json_object_get(o, key);
    if (json_is_null(x)) *v = NAN;
    else if (json_is_number(x)) *v = json_number_value(x);
    else return lrp_fail(err, "\"%s\": expected a number or null", key);
    return 0;
}

static int json_int(const json_t *o, const char *key, int *v, int dflt, lrp_err *err) {
    const json_t *x = json_object_get(o, key);
    if (!x) *v = dflt;
    else if (json_is_integer(x)) *v = (int)json_integer_value(x);
    else if (json_is_boolean(x)) *v = json_is_true(x);
    else return lrp_fail(err, "\"%s\": expected an integer", key);
    return 0;
}

static int json_curve(const json_t *a, int S, double **out, lrp_err *err, const char *key) {
    if (!json_is_array(a) || (int)json_array_size(a) != S)
        return lrp_fail(err, "\"%s\": expected %d values", key, S);
    if (!(*out = malloc((size_t)S * sizeof **out))) return lrp_fail(err, "out of memory");
    for (int s = 0; s < S; s++) {
        const json_t *x = json_array_get(a, (size_t)s);
        (*out)[s] = json_is_number(x) ? json_number_value(x) : NAN;
    }
    return 0;
}

int lrp_eval_record_from_json(const void *json_object, const lrp_eval_report *r, lrp_eval_record_result *rec,
                              char **target_name, lrp_err *err) {
    const json_t *o = json_object;
    memset(rec, 0, sizeof *rec);
    if (target_name) *target_name = NULL;
    if (!json_is_object(o)) return lrp_fail(err, "record: expected an object");
    const json_t *methods = json_object_get(o, "methods"), *span = json_object_get(o, "span_tokens");
    const json_t *tt = json_object_get(o, "target_token");
    int S = r->steps + 1;
    if (json_int(o, "line", &rec->line, -1, err) || json_int(o, "n_tokens", &rec->T, 0, err) ||
        json_int(o, "position", &rec->position, -1, err) || json_int(o, "target", &rec->target, -1, err) ||
        json_int(o, "target_given", &rec->target_given, 0, err) || json_int(o, "prediction", &rec->prediction, -1, err) ||
        json_num(o, "target_logit", &rec->target_logit, err) || json_num(o, "forward_seconds", &rec->forward_seconds, err))
        goto fail;
    if (rec->line < 1) {
        lrp_fail(err, "\"line\": missing");
        goto fail;
    }
    if (json_is_array(span)) {
        rec->n_span_tokens = (int)json_array_size(span);
        if (!(rec->span_tokens = malloc(((size_t)rec->n_span_tokens + 1) * sizeof(int)))) {
            lrp_fail(err, "out of memory");
            goto fail;
        }
        for (int i = 0; i < rec->n_span_tokens; i++)
            rec->span_tokens[i] = (int)json_integer_value(json_array_get(span, (size_t)i));
    }
    if (!json_is_object(methods)) {
        lrp_fail(err, "\"methods\": expected an object");
        goto fail;
    }
    for (int k = 0; k < r->n_methods; k++) {
        const lrp_method_info *info = lrp_method_by_id(r->methods[k]);
        const json_t *m = info ? json_object_get(methods, info->name) : NULL;
        lrp_eval_result *e = &rec->res[k];
        if (!json_is_object(m)) {
            lrp_fail(err, "\"methods\": no \"%s\"", info ? info->name : "?");
            goto fail;
        }
        const json_t *ins = json_object_get(m, "top1_in_span"), *morf = json_object_get(m, "morf"),
                     *lerf = json_object_get(m, "lerf");
        e->has_span = json_is_boolean(ins);
        e->top1_in_span = json_is_true(ins);
        e->perturbed = json_is_array(morf);
        if (json_int(m, "top1", &e->top1, -1, err) || json_num(m, "iou", &e->iou, err) ||
            json_num(m, "morf_auc", &e->auc_morf, err) || json_num(m, "lerf_auc", &e->auc_lerf, err) ||
            json_num(m, "delta_a", &e->delta_a, err) || json_num(m, "seconds", &e->seconds, err) ||
            json_int(m, "forward_passes", &e->forward_passes, 0, err) ||
            json_int(m, "backward_passes", &e->backward_passes, 0, err) ||
            (e->perturbed && (json_curve(morf, S, &e->morf, err, "morf") || json_curve(lerf, S, &e->lerf, err, "lerf"))))
            goto fail;
    }
    if (target_name && json_is_string(tt) && !(*target_name = strdup(json_string_value(tt)))) {
        lrp_fail(err, "out of memory");
        goto fail;
    }
    return 0;
fail:
    record_result_free(rec, r->n_methods);
    return -1;
}
