// Output views: characters merged across byte tokens, words, normalisation scales, the text PNG grid.
#include <stdint.h>

#include "harness.h"
#include "render/png.h"
#include "render/png_grid.h"
#include "render/render.h"
#include "render/units.h"
#include "tokenizer/tokenizer.h"

static int valid_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = lrp_utf8_char_len(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

static char *concat(const lrp_units *u) {
    size_t n = 1;
    for (int k = 0; k < u->n; k++) n += strlen(u->text[k]);
    char *s = malloc(n);
    s[0] = '\0';
    for (int k = 0; k < u->n; k++) strcat(s, u->text[k]);
    return s;
}

TEST(a_character_split_over_byte_tokens_is_shown_whole_once) {
    // "Café 日本" as a byte-level tokenizer may split it: é = C3 A9, 日 = E6 97 A5, 本 = E6 9C AC
    char *tok[] = {"C", "a", "f", "\xc3", "\xa9", " ", "\xe6", "\x97\xa5", "\xe6\x9c", "\xac"};
    float rel[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    lrp_units u;
    CHECK(lrp_units_build(tok, 10, NULL, rel, &u) == 0);
    CHECK(u.n == 7);
    const char *want[] = {"C", "a", "f", "\xc3\xa9", " ", "\xe6\x97\xa5", "\xe6\x9c\xac"};
    int first[] = {0, 1, 2, 3, 5, 6, 8}, last[] = {0, 1, 2, 4, 5, 7, 9};
    double sums[] = {1, 2, 3, 9, 6, 15, 19};
    for (int k = 0; k < u.n && k < 7; k++) {
        CHECK_STR(u.text[k], want[k]);
        CHECK(u.first[k] == first[k] && u.last[k] == last[k]);
        CHECK_NEAR(u.relevance[k], sums[k], 0);
    }
    char *s = concat(&u);
    CHECK_STR(s, "Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
    free(s);
    lrp_units_free(&u);
}

TEST(bytes_that_never_complete_a_character_are_shown_as_hex) {
    char *tok[] = {"a", "\xe6\x97", "b", "\xff", "\xc3"};
    lrp_units u;
    CHECK(lrp_units_build(tok, 5, NULL, NULL, &u) == 0);
    CHECK(u.n == 5);
    if (u.n == 5) {
        CHECK_STR(u.text[1], "<0xE6><0x97>");
        CHECK_STR(u.text[3], "<0xFF>");
        CHECK_STR(u.text[4], "<0xC3>");
    }
    lrp_units_free(&u);
}

TEST(random_byte_tokens_always_give_valid_utf8_and_keep_every_valid_character) {
    uint64_t x = 88172645463325252ull;
    for (int trial = 0; trial < 2000; trial++) {
        int T = 1 + trial % 12;
        char *tok[12];
        float rel[12];
        double total = 0;
        char stream[12 * 4 + 1] = "";
        for (int t = 0; t < T; t++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int n = (int)(x % 4);
            tok[t] = malloc(5);
            // bytes drawn from a small set so that characters often do form across tokens
            static const unsigned char pool[] = {'a', ' ', 0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98, 0x80, 0xff};
            for (int i = 0; i < n; i++) tok[t][i] = (char)pool[(x >> (8 + 4 * i)) % sizeof pool];
            tok[t][n] = '\0';
            strcat(stream, tok[t]);
            rel[t] = (float)((x >> 40) % 100) - 50;
            total += rel[t];
        }
        lrp_units u;
        CHECK(lrp_units_build(tok, T, NULL, rel, &u) == 0);
        double sum = 0;
        int ok = 1;
        for (int k = 0; k < u.n; k++) {
            sum += u.relevance[k];
            ok &= valid_utf8(u.text[k]);
            ok &= k == 0 ? u.first[k] == 0 : u.first[k] == u.last[k - 1] + 1;
        }
        CHECK(ok && u.last[u.n - 1] == T - 1);
        CHECK_NEAR(sum, total, 1e-9);
        if (valid_utf8(stream)) {  // nothing to escape: the units spell the stream
            char *s = concat(&u);
            CHECK_STR(s, stream);
            free(s);
        }
        lrp_units_free(&u);
        for (int t = 0; t < T; t++) free(tok[t]);
    }
}

TEST(words_sum_their_tokens_and_never_split_a_character) {
    char *tok[] = {"<s>", "Ca", "f\xc3", "\xa9", " is", " ni", "ce"};
    // a word start flagged inside the merged "é" (token 3) is ignored
    unsigned char ws[] = {1, 1, 0, 1, 1, 1, 0};
    float rel[] = {0.5f, 1, 2, 4, 8, 16, 32};
    lrp_units u;
    CHECK(lrp_units_build(tok, 7, ws, rel, &u) == 0);
    CHECK(u.n == 4);
    if (u.n == 4) {
        CHECK_STR(u.text[1], "Caf\xc3\xa9");
        CHECK(u.first[1] == 1 && u.last[1] == 3);
        CHECK_NEAR(u.relevance[1], 7, 0);
        CHECK_STR(u.text[3], " nice");
        CHECK_NEAR(u.relevance[3], 48, 0);
    }
    lrp_units_free(&u);
}

// Words of a real tokenizer: encode, find word starts, build units from the tokens' bytes.
static void words_of(const char *dir, const char *text, int add_special, const char *const *want, int n_want) {
    lrp_tokenizer *tok;
    lrp_err err;
    if (lrp_tokenizer_load(&tok, dir, &err)) {
        CHECK_STR(err.msg, "(loaded)");
        return;
    }
    int *ids, n;
    CHECK(lrp_tokenizer_encode(tok, text, strlen(text), add_special, &ids, &n, &err) == 0);
    unsigned char *ws = malloc((size_t)n);
    char **bytes = malloc((size_t)n * sizeof *bytes), buf[256];
    lrp_tokenizer_word_starts(tok, ids, n, ws);
    for (int t = 0; t < n; t++) {
        lrp_tokenizer_token_bytes(tok, ids[t], buf, sizeof buf);
        bytes[t] = strdup(buf);
    }
    lrp_units u;
    CHECK(lrp_units_build(bytes, n, ws, NULL, &u) == 0);
    CHECK(u.n == n_want);
    for (int k = 0; k < u.n && k < n_want; k++) CHECK_STR(u.text[k], want[k]);
    // without special tokens the units spell the decoded text
    if (!add_special) {
        char *dec = NULL, *s = concat(&u);
        CHECK(lrp_tokenizer_decode(tok, ids, n, 0, &dec, &err) == 0);
        CHECK_STR(s, dec);
        free(dec);
        free(s);
    }
    lrp_units_free(&u);
    for (int t = 0; t < n; t++) free(bytes[t]);
    free(bytes);
    free(ws);
    free(ids);
    lrp_tokenizer_free(tok);
}

TEST(words_of_byte_level_bpe) {
    const char *want[] = {"Hello", " world,", " caf\xc3\xa9", " \xe6\x97\xa5\xe6\x9c\xac", " unbelievably"};
    words_of("tests/tokenizer/gpt2", "Hello world, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac unbelievably", 0, want, 5);
}

TEST(words_of_sentencepiece_with_byte_fallback) {
    const char *want[] = {"<s>", " Caf\xc3\xa9", " \xe6\x97\xa5\xe6\x9c\xac", " unbelievably"};
    words_of("tests/tokenizer/llama2", "Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac unbelievably", 1, want, 4);
}

TEST(words_of_wordpiece) {
    const char *want[] = {"[CLS]", " unaffable", " running", ".", "[SEP]"};
    words_of("tests/tokenizer/bert", "unaffable running.", 1, want, 5);
}

TEST(normalisation_scales_are_max_and_sum_of_magnitudes) {
    double v[] = {0.5, -2, 1}, w[] = {-3};
    CHECK_NEAR(lrp_normalize_scale(LRP_NORMALIZE_NONE, v, 3, NULL, 0), 1, 0);
    CHECK_NEAR(lrp_normalize_scale(LRP_NORMALIZE_MAX, v, 3, NULL, 0), 2, 0);
    CHECK_NEAR(lrp_normalize_scale(LRP_NORMALIZE_SUM, v, 3, NULL, 0), 3.5, 0);
    CHECK_NEAR(lrp_normalize_scale(LRP_NORMALIZE_MAX, v, 3, w, 1), 3, 0);
    CHECK_NEAR(lrp_normalize_scale(LRP_NORMALIZE_SUM, v, 3, w, 1), 6.5, 0);
    double z[] = {0, 0};
    CHECK_NEAR(lrp_normalize_scale(LRP_NORMALIZE_MAX, z, 2, NULL, 0), 1, 0);  // all zero: nothing to divide by
}

TEST(the_text_grid_puts_each_box_where_the_layout_says) {
    double units[40];
    char *labels[40];
    for (int k = 0; k < 40; k++) {
        units[k] = k % 2 ? -(double)k : (double)k;
        labels[k] = k == 0 ? "A" : "";
    }
    float mat[2 * 3] = {1, -2, NAN, 0.5f, 0.25f, 0};
    lrp_grid_png g = {.units = units, .unit_labels = labels, .n_units = 40, .matrix = mat, .rows = 2, .cols = 3,
                      .row_scaled = 1};
    lrp_pixels img;
    lrp_grid_layout L;
    lrp_err err;
    CHECK(lrp_grid_render(&g, &img, &L, &err) == 0);
    CHECK(L.units_y == 8 && L.units_max == 39 && L.matrix_x == 70);
    CHECK(L.matrix_y == 8 + 3 * 20 - 2 + 8);
    CHECK(L.bar_y == L.matrix_y + 2 * 18 - 2 + 8);
    CHECK(L.width == 8 + 16 * 62 - 2 + 8 && L.height == L.bar_y + 14 + 8);
#define PX(x, y) (img.data + ((size_t)(y) * img.width + (x)) * 3)
    unsigned char want[3];
    lrp_diverging_color(-39.0 / 39, want);  // unit 39: line 2, column 7 (right end of the box: no label there)
    CHECK(memcmp(PX(8 + 7 * 62 + 59, 8 + 2 * 20 + 9), want, 3) == 0);
    lrp_diverging_color(6.0 / 39, want);
    CHECK(memcmp(PX(8 + 6 * 62 + 59, 8 + 17), want, 3) == 0);
    CHECK(PX(8 + 60, 8 + 9)[0] == 255 && PX(8 + 61, 8 + 9)[1] == 255);  // the gap between boxes stays white
    int ink = 0;  // unit 0 (value 0, white) carries its label "A" in black
    for (int y = 10; y < 24; y++)
        for (int x = 10; x < 17; x++) ink += PX(x, y)[0] == 0 && PX(x, y)[1] == 0;
    CHECK(ink > 5);
    lrp_diverging_color(-1, want);  // row 0, column 1: -2 / 2
    CHECK(memcmp(PX(70 + 18 + 3, L.matrix_y + 3), want, 3) == 0);
    CHECK(PX(70 + 36 + 3, L.matrix_y + 3)[0] == 230);  // NaN: empty
    lrp_diverging_color(1, want);  // row 1 on its own scale: 0.5 / 0.5
    CHECK(memcmp(PX(70 + 3, L.matrix_y + 18 + 3), want, 3) == 0);
    lrp_diverging_color(1, want);  // the bar's right end
    CHECK(memcmp(PX(8 + 200, L.bar_y + 5), want, 3) == 0);
#undef PX
    free(img.data);
}

TEST_MAIN(T(a_character_split_over_byte_tokens_is_shown_whole_once),
          T(bytes_that_never_complete_a_character_are_shown_as_hex),
          T(random_byte_tokens_always_give_valid_utf8_and_keep_every_valid_character),
          T(words_sum_their_tokens_and_never_split_a_character), T(words_of_byte_level_bpe),
          T(words_of_sentencepiece_with_byte_fallback), T(words_of_wordpiece),
          T(normalisation_scales_are_max_and_sum_of_magnitudes), T(the_text_grid_puts_each_box_where_the_layout_says))
