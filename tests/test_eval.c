// Faithfulness metrics (src/evaluate/metrics.c) and the SVG plot writer (src/render/svg.c), each on a case
// whose answer is known by construction: hand-made relevance vectors, a synthetic "model" whose logit
// depends on exactly one token, curves whose area is computed by hand.
#include <stdint.h>

#include "evaluate/data.h"
#include "evaluate/metrics.h"
#include "harness.h"
#include "render/plot.h"

// ---- removal order ----

TEST(morf_is_descending_relevance_and_never_removes_specials) {
    // Position 0 is BOS (not removable) and has the largest relevance: it must not appear.
    float rel[] = {9.0f, 0.1f, 0.9f, -0.5f, 0.3f};
    unsigned char removable[] = {0, 1, 1, 1, 1};
    int order[5];
    CHECK(lrp_eval_removal_order(rel, removable, 5, 1, order) == 4);
    CHECK(order[0] == 2 && order[1] == 4 && order[2] == 1 && order[3] == 3);
}

TEST(lerf_is_morf_reversed) {
    float rel[] = {9.0f, 0.1f, 0.9f, -0.5f, 0.3f};
    unsigned char removable[] = {0, 1, 1, 1, 1};
    int order[5];
    CHECK(lrp_eval_removal_order(rel, removable, 5, 0, order) == 4);
    CHECK(order[0] == 3 && order[1] == 1 && order[2] == 4 && order[3] == 2);
}

TEST(ties_go_to_the_earlier_position_and_nan_ranks_last) {
    float rel[] = {0.5f, NAN, 0.5f, 0.7f, 0.5f};
    unsigned char removable[] = {1, 1, 1, 1, 1};
    int order[5];
    CHECK(lrp_eval_removal_order(rel, removable, 5, 1, order) == 5);
    CHECK(order[0] == 3 && order[1] == 0 && order[2] == 2 && order[3] == 4 && order[4] == 1);
}

TEST(removed_counts_are_rounded_fractions_of_the_removable_tokens) {
    // steps 4, n 10: k·n/steps = 2.5, 5, 7.5, 10 -> 3, 5, 8, 10 (halves round up)
    CHECK(lrp_eval_removed_at(0, 4, 10) == 0);
    CHECK(lrp_eval_removed_at(1, 4, 10) == 3);
    CHECK(lrp_eval_removed_at(2, 4, 10) == 5);
    CHECK(lrp_eval_removed_at(3, 4, 10) == 8);
    CHECK(lrp_eval_removed_at(4, 4, 10) == 10);
    // steps 20, n 3: 0.45 -> 0, 0.6 -> 1, 1.5 -> 2 (k = 10), 20 -> 3
    CHECK(lrp_eval_removed_at(3, 20, 3) == 0);
    CHECK(lrp_eval_removed_at(4, 20, 3) == 1);
    CHECK(lrp_eval_removed_at(10, 20, 3) == 2);
    CHECK(lrp_eval_removed_at(20, 20, 3) == 3);
    // no overflow for large products
    CHECK(lrp_eval_removed_at(1000000, 1000001, 2000000000) == 1999998000);   // 2e15 / 1000001 = 1999998000.002
}

// ---- span agreement ----

TEST(top1_skips_specials_and_iou_counts_overlap_of_top_k_with_the_span) {
    float rel[] = {9.0f, 0.1f, 0.8f, 0.7f, 0.2f};
    unsigned char eligible[] = {0, 1, 1, 1, 1};
    unsigned char span[] = {0, 0, 1, 0, 1};   // k = 2; top-2 = {2, 3}: overlap {2}, union {2, 3, 4}
    CHECK(lrp_eval_top1(rel, eligible, 5) == 2);
    CHECK_NEAR(lrp_eval_topk_iou(rel, eligible, span, 5), 1.0 / 3.0, 1e-15);
    unsigned char exact[] = {0, 0, 1, 1, 0};
    CHECK_NEAR(lrp_eval_topk_iou(rel, eligible, exact, 5), 1.0, 0);
    unsigned char missed[] = {0, 1, 0, 0, 0};   // top-1 = {2}, span {1}: disjoint
    CHECK_NEAR(lrp_eval_topk_iou(rel, eligible, missed, 5), 0.0, 0);
    unsigned char none[] = {1, 0, 0, 0, 0};     // only a special token: no eligible span token
    CHECK(isnan(lrp_eval_topk_iou(rel, eligible, none, 5)));
}

// ---- perturbation curves ----

// A "model" whose logit is HIGH while token `key` is present and FLOOR once it is removed.
typedef struct {
    int key;
    int calls;
} one_token_model;
#define HIGH 5.0
#define FLOOR 1.0

static int one_token_logit(const unsigned char *drop, void *ctx, double *logit, lrp_err *err) {
    (void)err;
    one_token_model *m = ctx;
    m->calls++;
    *logit = drop[m->key] ? FLOOR : HIGH;
    return 0;
}

static int failing_logit(const unsigned char *drop, void *ctx, double *logit, lrp_err *err) {
    (void)drop, (void)ctx, (void)logit;
    return lrp_fail(err, "forward failed");
}

TEST(morf_drops_to_the_floor_at_the_first_step_that_removes_the_key_token) {
    // 10 removable tokens (1..10 after BOS), the key token 7 ranked third: MoRF removes it once
    // n_k >= 3, i.e. at the first k with round(k·10/8) >= 3: k = 2 (2.5 -> 3).
    enum { T = 11, STEPS = 8 };
    float rel[T] = {0};
    unsigned char removable[T];
    for (int t = 0; t < T; t++) removable[t] = t > 0, rel[t] = (float)t * 0.01f;
    rel[3] = 3.0f, rel[5] = 2.0f, rel[7] = 1.0f;   // ranks: 3, 5, 7, then 10, 9, ...
    int order[T];
    int n = lrp_eval_removal_order(rel, removable, T, 1, order);
    CHECK(n == 10 && order[2] == 7);
    one_token_model m = {7, 0};
    double curve[STEPS + 1];
    lrp_err err;
    CHECK(lrp_eval_curve(order, n, T, STEPS, HIGH, one_token_logit, &m, curve, &err) == 0);
    CHECK_NEAR(curve[0], 1.0, 0);
    CHECK_NEAR(curve[1], 1.0, 0);   // 1 token removed (round(1.25)): token 3
    for (int k = 2; k <= STEPS; k++) CHECK_NEAR(curve[k], FLOOR / HIGH, 0);
    // Every step removes a different number of tokens here (1, 3, 4, 5, 6, 8, 9, 10): 8 calls.
    CHECK(m.calls == 8);
}

TEST(lerf_keeps_the_logit_until_the_key_token_goes_last) {
    enum { T = 5, STEPS = 4 };
    float rel[T] = {0, 4, 3, 2, 1};   // token 1 most relevant and the key
    unsigned char removable[T] = {0, 1, 1, 1, 1};
    int order[T];
    int n = lrp_eval_removal_order(rel, removable, T, 0, order);
    one_token_model m = {1, 0};
    double curve[STEPS + 1];
    lrp_err err;
    CHECK(lrp_eval_curve(order, n, T, STEPS, HIGH, one_token_logit, &m, curve, &err) == 0);
    for (int k = 0; k < STEPS; k++) CHECK_NEAR(curve[k], 1.0, 0);
    CHECK_NEAR(curve[STEPS], FLOOR / HIGH, 0);
}

TEST(steps_that_remove_no_new_token_reuse_the_previous_value) {
    // 2 removable tokens, 10 steps: n_k = 0 (k < 3), 1 (3 <= k < 8), 2: two model calls in all.
    float rel[] = {0, 2, 1};
    unsigned char removable[] = {0, 1, 1};
    int order[3];
    int n = lrp_eval_removal_order(rel, removable, 3, 1, order);
    one_token_model m = {2, 0};
    double curve[11];
    lrp_err err;
    CHECK(lrp_eval_curve(order, n, 3, 10, HIGH, one_token_logit, &m, curve, &err) == 0);
    CHECK(m.calls == 2);
    for (int k = 0; k <= 7; k++) CHECK_NEAR(curve[k], 1.0, 0);
    for (int k = 8; k <= 10; k++) CHECK_NEAR(curve[k], FLOOR / HIGH, 0);
}

TEST(curve_errors_are_values) {
    int order[] = {1};
    double curve[3];
    lrp_err err;
    one_token_model m = {1, 0};
    CHECK(lrp_eval_curve(order, 1, 2, 2, HIGH, failing_logit, NULL, curve, &err) == -1);
    CHECK(strstr(err.msg, "forward failed") != NULL);
    CHECK(lrp_eval_curve(order, 1, 2, 0, HIGH, one_token_logit, &m, curve, &err) == -1);
    CHECK(strstr(err.msg, "--steps") != NULL);
    CHECK(lrp_eval_curve(order, 1, 2, 2, -1.0, one_token_logit, &m, curve, &err) == -1);
    CHECK(strstr(err.msg, "not positive") != NULL);
    int bad[] = {7};
    CHECK(lrp_eval_curve(bad, 1, 2, 2, HIGH, one_token_logit, &m, curve, &err) == -1);
    CHECK(m.calls == 0);
}

// ---- areas and statistics ----

TEST(auc_is_the_trapezoid_area_over_the_unit_interval) {
    // y = 1, 0.5, 0.5, 0 at x = 0, 1/3, 2/3, 1: (0.75 + 0.5 + 0.25) / 3 = 0.5
    double y[] = {1.0, 0.5, 0.5, 0.0};
    CHECK_NEAR(lrp_eval_auc(y, 4), 0.5, 1e-15);
    // A straight line is integrated exactly: y = 1 - x/2 over 21 points has area 0.75.
    double line[21];
    for (int k = 0; k <= 20; k++) line[k] = 1.0 - 0.5 * k / 20.0;
    CHECK_NEAR(lrp_eval_auc(line, 21), 0.75, 1e-14);
    double step[] = {1.0, 0.0};   // one trapezoid: 1/2
    CHECK_NEAR(lrp_eval_auc(step, 2), 0.5, 0);
    CHECK(isnan(lrp_eval_auc(step, 1)));
}

TEST(score_gives_delta_a_of_the_one_token_model_by_hand) {
    // 4 removable tokens, 4 steps, the key token most relevant.
    // MoRF: 1, .2, .2, .2, .2 -> AUC = (1 + .2)/2 · .25 + .2 · .75 = .3
    // LeRF: 1, 1, 1, 1, .2    -> AUC = .75 + (1 + .2)/2 · .25 = .9;  ΔA = .6
    float rel[] = {0, 0.1f, 0.9f, 0.3f, 0.2f};
    unsigned char removable[] = {0, 1, 1, 1, 1};
    unsigned char span[] = {0, 0, 1, 0, 0};
    one_token_model m = {2, 0};
    lrp_eval_result r;
    lrp_err err;
    CHECK(lrp_eval_score(rel, removable, span, 5, 4, HIGH, one_token_logit, &m, &r, &err) == 0);
    CHECK(r.perturbed && r.has_span && r.top1 == 2 && r.top1_in_span);
    CHECK_NEAR(r.iou, 1.0, 0);
    CHECK_NEAR(r.auc_morf, 0.3, 1e-15);
    CHECK_NEAR(r.auc_lerf, 0.9, 1e-15);
    CHECK_NEAR(r.delta_a, 0.6, 1e-15);
    lrp_eval_result_free(&r);
}

TEST(score_skips_curves_when_the_unperturbed_logit_is_not_positive) {
    float rel[] = {0, 1, 2};
    unsigned char removable[] = {0, 1, 1};
    one_token_model m = {1, 0};
    lrp_eval_result r;
    lrp_err err;
    CHECK(lrp_eval_score(rel, removable, NULL, 3, 4, -0.5, one_token_logit, &m, &r, &err) == 0);
    CHECK(!r.perturbed && !r.has_span && r.top1 == 2 && m.calls == 0);
    CHECK(r.morf == NULL && isnan(r.delta_a) && isnan(r.iou));
    lrp_eval_result_free(&r);
}

TEST(stats_give_mean_sample_sd_and_95_percent_interval) {
    // 1, 2, 3, 4: mean 2.5, sd = sqrt(5/3), CI half-width 1.96·sd/2; the NaN is left out.
    double v[] = {1, NAN, 2, 3, 4};
    lrp_eval_stats s = lrp_eval_stats_of(v, 5);
    CHECK(s.n == 4);
    CHECK_NEAR(s.mean, 2.5, 1e-15);
    CHECK_NEAR(s.sd, sqrt(5.0 / 3.0), 1e-15);
    CHECK_NEAR(s.ci95, 1.96 * sqrt(5.0 / 3.0) / 2.0, 1e-15);
    double one[] = {0.25};
    s = lrp_eval_stats_of(one, 1);
    CHECK(s.n == 1 && s.mean == 0.25 && isnan(s.sd) && isnan(s.ci95));
    s = lrp_eval_stats_of(NULL, 0);
    CHECK(s.n == 0 && isnan(s.mean));
    // Values far from zero: no cancellation (1e9 + 1, 1e9 + 2, 1e9 + 3: sd exactly 1).
    double far[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    CHECK_NEAR(lrp_eval_stats_of(far, 3).sd, 1.0, 1e-12);
}

TEST(random_relevance_is_reproducible_uniform_and_differs_between_records) {
    float a[1000], b[1000], c[1000];
    lrp_eval_random_relevance(42, 7, a, 1000);
    lrp_eval_random_relevance(42, 7, b, 1000);
    lrp_eval_random_relevance(42, 8, c, 1000);
    int same = 1, differ = 0;
    double mean = 0;
    for (int i = 0; i < 1000; i++) {
        same &= a[i] == b[i];
        differ += a[i] != c[i];
        CHECK(a[i] >= 0.0f && a[i] < 1.0f);
        mean += a[i] / 1000.0;
    }
    CHECK(same);
    CHECK(differ > 990);
    CHECK_NEAR(mean, 0.5, 0.05);   // sd of the mean of 1000 uniforms: 0.009
}

// ---- data records ----

static int parse(const char *line, lrp_eval_record *r, lrp_err *err) {
    return lrp_eval_parse_record(line, strlen(line), NULL, r, err);
}

TEST(record_with_text_target_and_span_in_code_points) {
    lrp_eval_record r;
    lrp_err err;
    // "héllo wörld": 11 code points, 13 bytes; the span [6, 11) is "wörld".
    CHECK(parse("{\"text\": \"h\\u00e9llo w\xc3\xb6rld\", \"target\": \" Rex\", \"span\": [6, 11], \"id\": 3}", &r,
                &err) == 0);
    CHECK(r.text_len == 13 && r.n_chars == 11);
    CHECK_STR(r.target, " Rex");
    CHECK(r.has_span && r.span[0] == 6 && r.span[1] == 11);
    lrp_eval_record_free(&r);
    CHECK(parse("{\"text\": \"abc\", \"target\": null}", &r, &err) == 0);
    CHECK(r.target == NULL && !r.has_span);
    lrp_eval_record_free(&r);
}

TEST(the_span_can_come_from_another_field) {
    const char *line = "{\"text\": \"Leo's dog is Rex.\", \"span\": [13, 16], \"fact_span\": [0, 17]}";
    lrp_eval_record r;
    lrp_err err;
    CHECK(lrp_eval_parse_record(line, strlen(line), "fact_span", &r, &err) == 0);
    CHECK(r.has_span && r.span[0] == 0 && r.span[1] == 17);
    lrp_eval_record_free(&r);
    CHECK(lrp_eval_parse_record(line, strlen(line), "evidence", &r, &err) == 0);   // absent: no span
    CHECK(!r.has_span);
    lrp_eval_record_free(&r);
    const char *bad = "{\"text\": \"abc\", \"fact_span\": [0, 4]}";
    CHECK(lrp_eval_parse_record(bad, strlen(bad), "fact_span", &r, &err) == -1);
    CHECK(strstr(err.msg, "\"fact_span\" [0, 4]") != NULL);
}

static void check_bad(const char *line, const char *expect) {
    lrp_eval_record r;
    lrp_err err = {{0}};
    int rc = parse(line, &r, &err);
    CHECK(rc == -1);
    if (rc == -1 && !strstr(err.msg, expect)) {
        fprintf(stderr, "  for %s: \"%s\" does not mention \"%s\"\n", line, err.msg, expect);
        harness_failed_checks++;
    }
}

TEST(bad_records_are_rejected_naming_the_field) {
    check_bad("{\"text\": \"abc\"", "invalid JSON");
    check_bad("[1, 2]", "must be a JSON object");
    check_bad("{\"target\": \"x\"}", "no \"text\"");
    check_bad("{\"text\": 5}", "\"text\" must be a string");
    check_bad("{\"text\": \"\"}", "\"text\" is empty");
    check_bad("{\"text\": \"a\\u0000b\"}", "invalid JSON");
    check_bad("{\"text\": \"abc\", \"target\": 3}", "\"target\" must be a string");
    check_bad("{\"text\": \"abc\", \"span\": [0, 4]}", "within the text's 3 characters");
    check_bad("{\"text\": \"abc\", \"span\": [2, 2]}", "non-empty range");
    check_bad("{\"text\": \"abc\", \"span\": [-1, 2]}", "\"span\"");
    check_bad("{\"text\": \"abc\", \"span\": [1]}", "pair of integers");
    check_bad("{\"text\": \"abc\", \"span\": [0.5, 2]}", "pair of integers");
    check_bad("{\"text\": \"abc\", \"span\": \"0,2\"}", "pair of integers");
    check_bad("{\"text\": \"abc\"} trailing", "invalid JSON");
    check_bad("{\"text\": \"\xff\"}", "invalid JSON");
}

// ---- token offsets ----

// A fake tokenizer: id 0 is BOS (decodes to nothing); the others are byte pieces. Like Hugging Face's
// decode, an incomplete UTF-8 sequence at the end comes out as U+FFFD.
static const char *const pieces[] = {"", "Mia", "'s", " caf", "\xc3", "\xa9"};

static int fake_decode(const int *ids, int n, char **text, void *ctx, lrp_err *err) {
    (void)ctx;
    char buf[256] = "";
    for (int i = 0; i < n; i++) strcat(buf, pieces[ids[i]]);
    size_t len = strlen(buf);
    if (len && (unsigned char)buf[len - 1] == 0xc3) strcpy(buf + len - 1, "\xef\xbf\xbd");
    if (!(*text = strdup(buf))) return lrp_fail(err, "out of memory");
    return 0;
}

TEST(token_offsets_from_decoded_prefixes) {
    // "Mia's café" = M i a ' s _ c a f é: 10 code points; é is split over two byte tokens.
    const char *text = "Mia's caf\xc3\xa9";
    int ids[] = {0, 1, 2, 3, 4, 5}, s[6], e[6];
    lrp_err err;
    CHECK(lrp_eval_token_offsets(ids, 6, text, strlen(text), fake_decode, NULL, s, e, &err) == 0);
    int want_s[] = {0, 0, 3, 5, 9, 9}, want_e[] = {0, 3, 5, 9, 9, 10};
    for (int i = 0; i < 6; i++) CHECK(s[i] == want_s[i] && e[i] == want_e[i]);

    unsigned char eligible[] = {0, 1, 1, 1, 1, 1}, in[6];
    // "é" [9, 10): the byte token that starts it (empty range at 9) and the one that completes it.
    CHECK(lrp_eval_span_tokens(s, e, eligible, 6, 9, 10, in) == 2);
    CHECK(in[4] && in[5]);
    // "caf" [6, 9): only " caf" (its leading space does not keep it out).
    CHECK(lrp_eval_span_tokens(s, e, eligible, 6, 6, 9, in) == 1);
    CHECK(in[3]);
    // "Mia" [0, 3): "Mia", never BOS.
    CHECK(lrp_eval_span_tokens(s, e, eligible, 6, 0, 3, in) == 1);
    CHECK(in[1] && !in[0]);
}

TEST(token_offsets_refuse_text_that_does_not_round_trip) {
    const char *text = "Mia's cafe!";   // not even up to case, accents and spaces
    int ids[] = {0, 1, 2, 3, 4, 5}, s[6], e[6];
    lrp_err err;
    CHECK(lrp_eval_token_offsets(ids, 6, text, strlen(text), fake_decode, NULL, s, e, &err) == -1);
    CHECK(strstr(err.msg, "do not decode back") != NULL);
}

// A lowercasing, accent-stripping WordPiece-style tokenizer: its decode gives the text only up to case,
// accents and spaces ("to be fair , the cafe" for "To be  fair, the Café").
static const char *const wp_pieces[] = {"", "to", " be", " fair", " ,", " the", " cafe"};
static int wp_decode(const int *ids, int n, char **text, void *ctx, lrp_err *err) {
    (void)ctx;
    char buf[256] = "";
    for (int i = 0; i < n; i++) strcat(buf, wp_pieces[ids[i]]);
    if (!(*text = strdup(buf))) return lrp_fail(err, "out of memory");
    return 0;
}

TEST(token_offsets_up_to_case_accents_and_spaces) {
    const char *text = "To be  fair, the Caf\xc3\xa9";  // 21 code points
    int ids[] = {0, 1, 2, 3, 4, 5, 6}, s[7], e[7];
    lrp_err err;
    CHECK(lrp_eval_token_offsets(ids, 7, text, strlen(text), wp_decode, NULL, s, e, &err) == 0);
    // [CLS] empty; "to" [0,2); "be" [2,5); "fair" [5,11) (two spaces); "," [11,12); "the" [12,16);
    // "cafe" [16,21): the decomposed é (e + accent) maps back to its one code point.
    int want_s[] = {0, 0, 2, 5, 11, 12, 16}, want_e[] = {0, 2, 5, 11, 12, 16, 21};
    for (int i = 0; i < 7; i++) CHECK(s[i] == want_s[i] && e[i] == want_e[i]);
    unsigned char eligible[] = {0, 1, 1, 1, 1, 1, 1}, in[7];
    CHECK(lrp_eval_span_tokens(s, e, eligible, 7, 6, 10, in) == 1);  // "fair"
    CHECK(in[3]);
}

// ---- the SVG writer ----

TEST(ticks_are_nice_numbers_covering_the_range) {
    double t0, t1;
    CHECK_NEAR(lrp_plot_ticks(0, 1, 5, &t0, &t1), 0.2, 1e-15);
    CHECK(t0 == 0 && t1 == 1);
    CHECK_NEAR(lrp_plot_ticks(-0.13, 1.0, 6, &t0, &t1), 0.2, 1e-15);
    CHECK_NEAR(t0, -0.2, 1e-15);
    CHECK_NEAR(t1, 1.0, 1e-15);
    CHECK_NEAR(lrp_plot_ticks(0, 37, 5, &t0, &t1), 10, 1e-12);
    CHECK(t0 == 0 && t1 == 40);
    CHECK(lrp_plot_ticks(NAN, INFINITY, 5, &t0, &t1) > 0);   // garbage in: still a usable axis
}

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

TEST(svg_has_one_path_per_line_dashes_escaped_labels_and_gaps_at_nan) {
    double x[] = {0, 0.5, 1}, a[] = {1, 0.4, 0.1}, b[] = {1, NAN, 0.8};
    lrp_plot_line lines[] = {{a, 0, 0}, {b, 0, 1}};
    lrp_plot_key keys[] = {{"a<b & \"c\"", 0, 0}, {"LeRF", LRP_PLOT_GREY, 1}};
    lrp_plot p = {"title", "sub", "fraction removed", "logit ratio", x, 3, lines, 2, keys, 2};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f) return;
    lrp_plot_svg(f, &p);
    fclose(f);
    CHECK(strncmp(buf, "<?xml", 5) == 0 && strstr(buf, "</svg>\n") != NULL);
    CHECK(count(buf, "<path ") == 2);
    CHECK(count(buf, "stroke-dasharray") == 2);   // the dashed line and its legend key
    CHECK(strstr(buf, "a&lt;b &amp; &quot;c&quot;") != NULL);
    CHECK(strstr(buf, lrp_plot_color(0)) != NULL && strstr(buf, lrp_plot_color(LRP_PLOT_GREY)) != NULL);
    // The dashed line has a NaN in the middle: two separate one-point pieces ("M .. M ..").
    const char *dashed = strstr(buf, "<path stroke=\"#0072B2\" stroke-dasharray");
    CHECK(dashed != NULL);
    if (dashed) {
        const char *d = strstr(dashed, " d=\""), *end = strstr(dashed, "/>");
        char path[256] = "";
        if (d && end && end - d < 255) memcpy(path, d, (size_t)(end - d));
        CHECK(count(path, "M") == 2 && count(path, "L") == 0);
    }
    // No non-finite number printed anywhere ("dominant-baseline" contains "nan", hence the delimiters).
    static const char *const nonfinite[] = {"\"nan", "nan\"", " nan", "nan ", "\"inf", "inf\"", " inf", "inf "};
    for (size_t i = 0; i < sizeof nonfinite / sizeof nonfinite[0]; i++) CHECK(strstr(buf, nonfinite[i]) == NULL);
    free(buf);
}

TEST_MAIN(T(morf_is_descending_relevance_and_never_removes_specials), T(lerf_is_morf_reversed),
          T(ties_go_to_the_earlier_position_and_nan_ranks_last),
          T(removed_counts_are_rounded_fractions_of_the_removable_tokens),
          T(top1_skips_specials_and_iou_counts_overlap_of_top_k_with_the_span),
          T(morf_drops_to_the_floor_at_the_first_step_that_removes_the_key_token),
          T(lerf_keeps_the_logit_until_the_key_token_goes_last),
          T(steps_that_remove_no_new_token_reuse_the_previous_value), T(curve_errors_are_values),
          T(auc_is_the_trapezoid_area_over_the_unit_interval), T(score_gives_delta_a_of_the_one_token_model_by_hand),
          T(score_skips_curves_when_the_unperturbed_logit_is_not_positive),
          T(stats_give_mean_sample_sd_and_95_percent_interval),
          T(random_relevance_is_reproducible_uniform_and_differs_between_records),
          T(record_with_text_target_and_span_in_code_points),
          T(the_span_can_come_from_another_field), T(bad_records_are_rejected_naming_the_field),
          T(token_offsets_from_decoded_prefixes), T(token_offsets_refuse_text_that_does_not_round_trip), T(token_offsets_up_to_case_accents_and_spaces),
          T(ticks_are_nice_numbers_covering_the_range),
          T(svg_has_one_path_per_line_dashes_escaped_labels_and_gaps_at_nan))
