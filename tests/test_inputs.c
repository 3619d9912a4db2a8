// The library pieces every command shares: ranking (lrp_rank_top), the method registry, text inputs
// (pairs and token types), one-token and class resolution, the masked LM's default position. Expected
// values come from the committed tokenizer fixtures (ids as the reference tokenizers give them).
#include "explain/explain.h"
#include "explain/methods.h"
#include "harness.h"
#include "inputs/text.h"

TEST(rank_top_orders_descending_with_ties_to_the_lower_index_and_nan_last) {
    const float v[] = {1, 3, NAN, 3, 2};
    int idx[5];
    lrp_rank_top(v, 5, 5, idx);
    CHECK(idx[0] == 1 && idx[1] == 3 && idx[2] == 4 && idx[3] == 0 && idx[4] == 2);
    lrp_rank_top(v, 5, 2, idx);
    CHECK(idx[0] == 1 && idx[1] == 3);
}

TEST(rank_top_of_all_nan_keeps_index_order) {
    const float v[] = {NAN, NAN, NAN};
    int idx[3] = {-1, -1, -1};
    lrp_rank_top(v, 3, 3, idx);
    CHECK(idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
}

TEST(method_registry_lists_and_parses_every_method_once) {
    CHECK_STR(lrp_method_names(0), "attnlrp, cplrp, gradxinput, gradient, ig, smoothgrad, occlusion, attention, rollout, gradxattnroll, atman, kernelshap");
    CHECK_STR(lrp_method_names(1), "attnlrp, cplrp, gradxinput, gradient, random, attnlrp+gamma, cplrp+gamma, ig, smoothgrad, occlusion, attention, rollout, gradxattnroll, atman, kernelshap");
    CHECK(lrp_method_by_id(LRP_METHOD_CPLRP_GAMMA)->gamma && lrp_method_by_id(LRP_METHOD_CPLRP_GAMMA)->rules == LRP_METHOD_CPLRP);
    lrp_err err;
    int id = -1;
    CHECK(lrp_method_lookup("method", "gradient", 0, &id, &err) == 0 && id == LRP_METHOD_GRADIENT);
    CHECK(lrp_method_lookup("method", "random", 0, &id, &err) == -1);
    CHECK_STR(err.msg, "method random: unknown method (attnlrp, cplrp, gradxinput, gradient, ig, smoothgrad, occlusion, attention, rollout, gradxattnroll, atman, kernelshap)");
    CHECK(lrp_method_lookup("method", "random", 1, &id, &err) == 0 && id == LRP_METHOD_RANDOM);
    CHECK(lrp_method_by_id(LRP_METHOD_RANDOM)->baseline == 1 && lrp_method_by_id(LRP_METHOD_CPLRP)->baseline == 0);
    int ids[8], n = 0;
    CHECK(lrp_method_list_parse("methods", "cplrp,random", ids, 8, &n, &err) == 0);
    CHECK(n == 2 && ids[0] == LRP_METHOD_CPLRP && ids[1] == LRP_METHOD_RANDOM);
    CHECK(lrp_method_list_parse("methods", "attnlrp,lime", ids, 8, &n, &err) == -1);
    CHECK_STR(err.msg, "methods: unknown method \"lime\" (attnlrp, cplrp, gradxinput, gradient, random, attnlrp+gamma, "
                       "cplrp+gamma, ig, smoothgrad, occlusion, attention, rollout, gradxattnroll, atman, kernelshap)");
    CHECK(lrp_method_list_parse("methods", "attnlrp,attnlrp", ids, 8, &n, &err) == -1);
    CHECK_STR(err.msg, "methods: \"attnlrp\" is listed twice");
    CHECK(lrp_method_list_parse("methods", "attnlrp,,gradient", ids, 8, &n, &err) == -1);
    CHECK_STR(err.msg, "methods attnlrp,,gradient: expected a comma-separated list");
}

TEST(a_token_is_one_token_or_an_error_showing_the_split) {
    lrp_tokenizer *tok;
    lrp_err err;
    if (lrp_tokenizer_load(&tok, "tests/tokenizer/gpt2", &err)) {
        CHECK_STR(err.msg, "(loaded)");
        return;
    }
    int id = -1;
    CHECK(lrp_resolve_token(tok, "target_text", "Hello", &id, &err) == 0 && id == 15496);
    CHECK(lrp_resolve_token(tok, "target_text", " world", &id, &err) == 0 && id == 995);
    CHECK(lrp_resolve_token(tok, "target_text", "Hello world", &id, &err) == -1);
    CHECK_STR(err.msg, "target_text \"Hello world\" is 2 tokens, not one: \"Hello\" (15496), \" world\" (995)");
    lrp_config cfg = {.task = LRP_TASK_CAUSAL_LM};
    CHECK(lrp_resolve_target(&cfg, tok, "contrast_text", " world", &id, &err) == 0 && id == 995);
    CHECK(lrp_resolve_target(&cfg, NULL, "target_text", "x", &id, &err) == -1);
    lrp_text_inputs in;
    CHECK(lrp_encode_text(tok, &cfg, "a", 1, "b", 1, &in, &err) == -1);
    CHECK_STR(err.msg, "text_pair: the tokenizer has no template for text pairs (its post_processor joins no second "
                       "text)");
    lrp_tokenizer_free(tok);
}

TEST(a_classifier_target_is_a_class_name) {
    char *labels[] = {"NEG", "POS"};
    lrp_config cfg = {.task = LRP_TASK_CLASSIFIER, .n_labels = 2, .labels = labels};
    lrp_err err;
    int id = -1;
    CHECK(lrp_resolve_target(&cfg, NULL, "target_text", "POS", &id, &err) == 0 && id == 1);
    CHECK(lrp_resolve_target(&cfg, NULL, "target_text", "MAYBE", &id, &err) == -1);
    CHECK_STR(err.msg, "target_text \"MAYBE\": not a class of the model (labels: NEG, POS)");
    char *name = lrp_output_string(&cfg, NULL, 0);
    CHECK_STR(name, "NEG");
    free(name);
}

TEST(pairs_carry_token_types_only_for_models_that_have_them) {
    lrp_tokenizer *tok;
    lrp_err err;
    if (lrp_tokenizer_load(&tok, "tests/tokenizer/bert", &err)) {
        CHECK_STR(err.msg, "(loaded)");
        return;
    }
    lrp_config bert = {.task = LRP_TASK_CLASSIFIER, .type_vocab_size = 2}, llama = {.task = LRP_TASK_CAUSAL_LM};
    lrp_text_inputs in;
    CHECK(lrp_encode_text(tok, &bert, "a", 1, "b", 1, &in, &err) == 0);
    // [CLS] a [SEP] b [SEP]
    CHECK(in.T == 5 && in.ids[0] == 101 && in.ids[1] == 1037 && in.ids[2] == 102 && in.ids[3] == 1038);
    CHECK(in.token_types && in.token_types[2] == 0 && in.token_types[3] == 1 && in.token_types[4] == 1);
    lrp_text_inputs_free(&in);
    CHECK(lrp_encode_text(tok, &llama, "a", 1, "b", 1, &in, &err) == 0 && in.T == 5 && !in.token_types);
    lrp_text_inputs_free(&in);
    lrp_tokenizer_free(tok);
}

TEST(a_masked_lm_explains_the_first_mask_token_by_default) {
    lrp_tokenizer *tok;
    lrp_err err;
    if (lrp_tokenizer_load(&tok, "tests/tokenizer/bert", &err)) {
        CHECK_STR(err.msg, "(loaded)");
        return;
    }
    lrp_config mlm = {.task = LRP_TASK_MASKED_LM}, clm = {.task = LRP_TASK_CAUSAL_LM};
    const int masked[] = {101, 1037, 103, 1038, 103, 102}, plain[] = {101, 1037, 102};
    int pos = -2;
    CHECK(lrp_find_mask(tok, masked, 6) == 2 && lrp_find_mask(tok, plain, 3) == -1);
    CHECK(lrp_default_position(&mlm, tok, masked, 6, &pos, &err) == 0 && pos == 2);
    CHECK(lrp_default_position(&mlm, tok, plain, 3, &pos, &err) == -1);
    CHECK_STR(err.msg, "position: the input has no mask token ([MASK]) to explain; give the position");
    CHECK(lrp_default_position(&clm, tok, plain, 3, &pos, &err) == 0 && pos == -1);
    lrp_tokenizer_free(tok);
}

TEST_MAIN(T(rank_top_orders_descending_with_ties_to_the_lower_index_and_nan_last),
          T(rank_top_of_all_nan_keeps_index_order), T(method_registry_lists_and_parses_every_method_once),
          T(a_token_is_one_token_or_an_error_showing_the_split), T(a_classifier_target_is_a_class_name),
          T(pairs_carry_token_types_only_for_models_that_have_them),
          T(a_masked_lm_explains_the_first_mask_token_by_default))
