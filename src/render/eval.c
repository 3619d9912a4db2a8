// An evaluation report (evaluate/runner.h) as a table, as JSON, and as a plot of the mean curves.
#include <math.h>
#include <string.h>

#include "explain/methods.h"
#include "render/plot.h"
#include "render/render.h"

static const char *method_name(int id) {
    const lrp_method_info *m = lrp_method_by_id(id);
    return m ? m->name : "?";
}

// Fixed colours, so that a method looks the same in every plot; baselines are grey.
static int method_color(int id) {
    switch (id) {
    case LRP_METHOD_ATTNLRP: return 1;
    case LRP_METHOD_CPLRP: return 0;
    case LRP_METHOD_GRADXINPUT: return 2;
    case LRP_METHOD_GRADIENT: return 3;
    case LRP_METHOD_ATTNLRP_GAMMA: return 4;
    case LRP_METHOD_CPLRP_GAMMA: return 5;
    default: return LRP_PLOT_GREY;
    }
}

// ---- JSON ----

static json_t *stats(lrp_eval_stats s) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(s.n));
    json_object_set_new(o, "mean", lrp_jv_number(s.mean));
    json_object_set_new(o, "sd", lrp_jv_number(s.sd));
    json_object_set_new(o, "ci95", lrp_jv_number(s.ci95));
    return o;
}

static json_t *curve_or_null(const double *c, int n) { return c ? lrp_jv_double_array(c, n) : json_null(); }

static json_t *method_summary(const lrp_eval_report *r, int k) {
    const lrp_eval_summary *m = &r->summary[k];
    int S = r->steps + 1;
    json_t *o = json_object();
    json_object_set_new(o, "method", json_string(method_name(m->method)));
    json_object_set_new(o, "n", json_integer(m->n));
    json_object_set_new(o, "n_perturbed", json_integer(m->n_perturbed));
    json_object_set_new(o, "span_top1_accuracy", stats(m->top1));
    json_object_set_new(o, "span_iou", stats(m->iou));
    json_object_set_new(o, "morf_auc", stats(m->morf));
    json_object_set_new(o, "lerf_auc", stats(m->lerf));
    json_object_set_new(o, "delta_a", stats(m->delta));
    json_object_set_new(o, "seconds_per_record", stats(m->seconds));
    json_object_set_new(o, "forward_multiple", lrp_jv_number(m->forward_multiple));
    json_object_set_new(o, "forward_passes", lrp_jv_number(m->forward_passes));
    json_object_set_new(o, "backward_passes", lrp_jv_number(m->backward_passes));
    if (k > 0)
        json_object_set_new(o, "paired_delta_a_difference",
                            json_pack("{s:s, s:o}", "minuend", method_name(r->summary[0].method), "difference",
                                      stats(m->first_minus)));
    json_object_set_new(o, "mean_morf", curve_or_null(m->mean_morf, S));
    json_object_set_new(o, "mean_lerf", curve_or_null(m->mean_lerf, S));
    return o;
}

json_t *lrp_render_eval_record_json(const lrp_eval_report *r, int i, const char *target_name) {
    const lrp_eval_record_result *rec = &r->records[i];
    int S = r->steps + 1;
    json_t *o = json_object();
    json_object_set_new(o, "line", json_integer(rec->line));
    json_object_set_new(o, "n_tokens", json_integer(rec->T));
    if (rec->position >= 0) json_object_set_new(o, "position", json_integer(rec->position));
    json_object_set_new(o, "target", json_integer(rec->target));
    if (target_name) json_object_set_new(o, "target_token", lrp_jv_text(target_name));
    json_object_set_new(o, "target_given", json_boolean(rec->target_given));
    json_object_set_new(o, "prediction", json_integer(rec->prediction));
    json_object_set_new(o, "target_logit", lrp_jv_number(rec->target_logit));
    json_object_set_new(o, "forward_seconds", lrp_jv_number(rec->forward_seconds));
    json_object_set_new(o, "span_tokens",
                        rec->span_tokens ? lrp_jv_int_array(rec->span_tokens, rec->n_span_tokens) : json_null());
    json_t *methods = json_object();
    for (int k = 0; k < r->n_methods; k++) {
        const lrp_eval_result *e = &rec->res[k];
        json_t *m = json_object();
        json_object_set_new(m, "top1", json_integer(e->top1));
        json_object_set_new(m, "top1_in_span", e->has_span ? json_boolean(e->top1_in_span) : json_null());
        json_object_set_new(m, "iou", lrp_jv_number(e->iou));
        json_object_set_new(m, "morf_auc", lrp_jv_number(e->auc_morf));
        json_object_set_new(m, "lerf_auc", lrp_jv_number(e->auc_lerf));
        json_object_set_new(m, "delta_a", lrp_jv_number(e->delta_a));
        json_object_set_new(m, "seconds", lrp_jv_number(e->seconds));
        json_object_set_new(m, "forward_passes", json_integer(e->forward_passes));
        json_object_set_new(m, "backward_passes", json_integer(e->backward_passes));
        json_object_set_new(m, "morf", e->perturbed ? curve_or_null(e->morf, S) : json_null());
        json_object_set_new(m, "lerf", e->perturbed ? curve_or_null(e->lerf, S) : json_null());
        json_object_set_new(methods, method_name(r->methods[k]), m);
    }
    json_object_set_new(o, "methods", methods);
    return o;
}

int lrp_render_eval_json(FILE *f, const lrp_eval_report *r, const lrp_eval_render_ctx *ctx) {
    json_t *o = json_object();
    if (!o) return -1;
    json_object_set_new(o, "attnlrp_eval", json_integer(1));
    if (ctx->sha256) {
        json_object_set_new(o, "sha256", json_string(ctx->sha256));
        json_object_set_new(o, "shard", json_pack("[i, i]", ctx->shard_k, ctx->shard_n));
        json_object_set_new(o, "records_in_data", json_integer(ctx->records_in_data));
        json_t *opt = ctx->options ? json_loads(ctx->options, 0, NULL) : NULL;
        json_object_set_new(o, "options", opt ? opt : json_null());
    }
    json_object_set_new(o, "model", lrp_jv_text(ctx->model_path));
    json_object_set_new(o, "data", lrp_jv_text(ctx->data_path));
    json_object_set_new(o, "family", lrp_jv_text(ctx->family));
    json_object_set_new(o, "task", json_string(lrp_task_name(r->task)));
    json_object_set_new(o, "images", json_boolean(r->images));
    json_object_set_new(o, "span_field", lrp_jv_text(ctx->span_field));
    json_object_set_new(o, "steps", json_integer(r->steps));
    json_object_set_new(o, "seed", json_integer((json_int_t)ctx->seed));
    json_object_set_new(o, "n_records", json_integer(r->n_total));
    json_object_set_new(o, "n_evaluated", json_integer(r->n_records));
    if (ctx->nonfinite_tensor)
        json_object_set_new(o, "nonfinite_weight", json_pack("{s:s, s:I, s:I}", "tensor", ctx->nonfinite_tensor, "index",
                                                             (json_int_t)ctx->nonfinite_index, "count",
                                                             (json_int_t)ctx->nonfinite_count));
    json_object_set_new(o, "n_bad", json_integer(r->n_bad));
    json_object_set_new(o, "n_targets_given", json_integer(r->n_targets_given));
    json_object_set_new(o, "model_accuracy", r->n_targets_given ? json_real((double)r->n_targets_predicted /
                                                                              r->n_targets_given)
                                                                 : json_null());
    json_t *bad = json_array();
    for (int i = 0; i < r->n_bad; i++)
        json_array_append_new(bad, json_pack("{s:i, s:o}", "line", r->bad[i].line, "error", lrp_jv_text(r->bad[i].msg)));
    json_object_set_new(o, "bad_records", bad);
    json_t *fr = json_array();
    for (int s = 0; s <= r->steps; s++) json_array_append_new(fr, json_real((double)s / r->steps));
    json_object_set_new(o, "fractions", fr);
    json_t *methods = json_array();
    for (int k = 0; k < r->n_methods; k++) json_array_append_new(methods, method_summary(r, k));
    json_object_set_new(o, "methods", methods);
    json_t *records = json_array();
    for (int i = 0; i < r->n_records; i++)
        json_array_append_new(records, lrp_render_eval_record_json(r, i, ctx->target_names ? ctx->target_names[i] : NULL));
    json_object_set_new(o, "records", records);
    return lrp_jv_dump(f, o, 0);
}

// ---- the table ----

// s padded to `width` display columns (code points: every character used here is one column wide).
static void padded(FILE *f, const char *s, int width, int right) {
    int w = 0;
    for (const char *p = s; *p; p++) w += ((unsigned char)*p & 0xc0) != 0x80;
    if (right) fprintf(f, "%*s%s", width > w ? width - w : 0, "", s);
    else fprintf(f, "%s%*s", s, width > w ? width - w : 0, "");
}

// "0.123", or "-" for a missing value.
static void number_cell(FILE *f, int width, double v, int decimals) {
    char buf[64];
    if (isfinite(v)) snprintf(buf, sizeof buf, "%.*f", decimals, v);
    else snprintf(buf, sizeof buf, "-");
    padded(f, buf, width, 1);
}

void lrp_render_eval_text(FILE *f, const lrp_eval_report *r, const lrp_eval_render_ctx *ctx) {
    int given = r->n_targets_given, correct = r->n_targets_predicted, perturbed_all = 1;
    int classifier = r->task == LRP_TASK_CLASSIFIER;
    const lrp_eval_summary *ms = r->summary;
    fprintf(f, "attnlrp eval: %s (%s), data %s\n", ctx->model_path, ctx->family, ctx->data_path);
    fprintf(f, "records: %d evaluated", r->n_records);
    if (r->n_bad) fprintf(f, ", %d bad (skipped; listed on stderr)", r->n_bad);
    fprintf(f, "; %d with an answer span", r->n_with_span);
    if (strcmp(ctx->span_field, "span")) fprintf(f, " (field \"%s\")", ctx->span_field);
    fputc('\n', f);
    if (given == r->n_records)
        fprintf(f, "target: as given in the data; the model predicts it in %d of %d (%.1f%%)\n", correct, given,
                100.0 * correct / given);
    else if (given)
        fprintf(f, "target: given in %d records (the model predicts it in %d), the model's prediction in %d\n", given,
                correct, r->n_records - given);
    else if (classifier)
        fprintf(f, "target: the model's predicted class\n");
    else if (r->task == LRP_TASK_MASKED_LM)
        fprintf(f, "target: the model's prediction at the first mask token\n");
    else
        fprintf(f, "target: the model's prediction at the last position\n");
    if (r->images)
        fprintf(f, "perturbation: %d steps of image patches set to 0 (the normalised mean); curve = target class logit "
                   "/ unperturbed\n\n", r->steps);
    else
        fprintf(f, "perturbation: %d steps of zeroed input embeddings, special tokens kept; "
                   "curve = target %s / unperturbed\n\n", r->steps, classifier ? "class logit" : "logit");
    padded(f, "method", 14, 0);
    padded(f, "top-1 in span", 15, 1);
    padded(f, "IoU", 8, 1);
    padded(f, "MoRF AUC", 11, 1);
    padded(f, "LeRF AUC", 11, 1);
    fputs("   ", f);
    padded(f, "ΔA (95% CI)", 17, 0);
    padded(f, "s/record", 10, 1);
    padded(f, "× forward", 11, 1);
    padded(f, "passes f+b", 12, 1);
    fputc('\n', f);
    for (int k = 0; k < r->n_methods; k++) {
        const lrp_eval_summary *m = &ms[k];
        padded(f, method_name(m->method), 14, 0);
        number_cell(f, 15, m->top1.mean, 3);
        number_cell(f, 8, m->iou.mean, 3);
        number_cell(f, 11, m->morf.mean, 3);
        number_cell(f, 11, m->lerf.mean, 3);
        fputs("   ", f);
        char d[64];
        if (!isfinite(m->delta.mean)) snprintf(d, sizeof d, "-");
        else if (!isfinite(m->delta.ci95)) snprintf(d, sizeof d, "%.3f", m->delta.mean);
        else snprintf(d, sizeof d, "%.3f ± %.3f", m->delta.mean, m->delta.ci95);
        padded(f, d, 17, 0);
        number_cell(f, 10, m->seconds.mean, 4);
        number_cell(f, 11, m->forward_multiple, 1);
        char p[32];
        if (m->forward_passes + m->backward_passes > 0)
            snprintf(p, sizeof p, "%.0f+%.0f", m->forward_passes, m->backward_passes);
        else
            snprintf(p, sizeof p, "-");
        padded(f, p, 12, 1);
        fputc('\n', f);
        perturbed_all &= m->n_perturbed == m->n;
    }
    fputs("\nΔA = AUC(LeRF) − AUC(MoRF), higher is more faithful; s/record: time of one explanation; × forward: that\n"
          "time over one forward pass of the same record; passes f+b: forward and backward passes it ran (mean)\n", f);
    if (r->n_methods > 1) {
        fprintf(f, "paired ΔA differences (same records), %s minus:", method_name(ms[0].method));
        for (int k = 1; k < r->n_methods; k++) {
            const lrp_eval_stats *d = &ms[k].first_minus;
            fprintf(f, "%s %s ", k > 1 ? "," : "", method_name(ms[k].method));
            if (!isfinite(d->mean)) fputs("-", f);
            else if (!isfinite(d->ci95)) fprintf(f, "%.3f", d->mean);
            else fprintf(f, "%.3f ± %.3f", d->mean, d->ci95);
        }
        fputc('\n', f);
    }
    if (!perturbed_all)
        fprintf(f, "note: %d of %d records have a target logit that is not positive: no perturbation curves, "
                   "left out of the AUCs\n",
                ms[0].n - ms[0].n_perturbed, ms[0].n);
}

// ---- the plot ----

void lrp_render_eval_plot(FILE *f, const lrp_eval_report *r, const lrp_eval_render_ctx *ctx) {
    int S = r->steps + 1, n = r->n_methods;
    const lrp_eval_summary *ms = r->summary;
    double xs[10001];
    for (int s = 0; s < S; s++) xs[s] = (double)s / r->steps;
    lrp_plot_line lines[2 * LRP_EVAL_MAX_METHODS];
    lrp_plot_key keys[LRP_EVAL_MAX_METHODS + 3];
    char labels[LRP_EVAL_MAX_METHODS][64];
    for (int k = 0; k < n; k++) {
        int c = method_color(ms[k].method);
        lines[2 * k] = (lrp_plot_line){ms[k].mean_morf, c, 0};
        lines[2 * k + 1] = (lrp_plot_line){ms[k].mean_lerf, c, 1};
        if (isfinite(ms[k].delta.mean))
            snprintf(labels[k], sizeof labels[k], "%s (\xce\x94" "A %.3f)", method_name(ms[k].method), ms[k].delta.mean);
        else
            snprintf(labels[k], sizeof labels[k], "%s", method_name(ms[k].method));
        keys[k] = (lrp_plot_key){labels[k], c, 0};
    }
    keys[n] = (lrp_plot_key){NULL, 0, 0};
    keys[n + 1] = (lrp_plot_key){"MoRF: most relevant first", LRP_PLOT_INK, 0};
    keys[n + 2] = (lrp_plot_key){"LeRF: least relevant first", LRP_PLOT_INK, 1};
    char sub[600];
    snprintf(sub, sizeof sub, "%s, %d records; mean over records", ctx->data_path, ms[0].n_perturbed);
    int classifier = r->task == LRP_TASK_CLASSIFIER;
    lrp_plot p = {r->images ? "Patch flipping: class logit vs. fraction of patches removed"
                  : classifier ? "Token removal: class logit vs. fraction removed"
                               : "Token removal: target logit vs. fraction removed",
                  sub, r->images ? "fraction of patches removed (set to the normalised mean, 0)"
                                 : "fraction of tokens removed (input embedding zeroed)",
                  classifier ? "class logit / unperturbed logit" : "target logit / unperturbed logit",
                  xs, S, lines, 2 * n, keys, n + 3};
    lrp_plot_svg(f, &p);
}
