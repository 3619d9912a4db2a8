// One behaviour per test for the tokenizer.json components, on small hand-built tokenizers whose
// expected output follows from the component's definition in huggingface/tokenizers (cited per test),
// plus error handling: JSON paths in load errors, invalid UTF-8 offsets, unknown ids.
#include "harness.h"
#include "tokenizer/tokenizer.h"

static lrp_err err;

// Loads a tokenizer from JSON text; prints the error and returns NULL on failure.
static lrp_tokenizer *mk_cfg(const char *json, const char *config) {
    lrp_tokenizer *tok = NULL;
    if (lrp_tokenizer_load_json(&tok, json, strlen(json), config, "test.json", &err)) {
        fprintf(stderr, "  load failed: %s\n", err.msg);
        return NULL;
    }
    return tok;
}
static lrp_tokenizer *mk(const char *json) { return mk_cfg(json, NULL); }

// The pieces of encode(text) joined by '|' (static buffer), or "ERR: <message>".
static const char *pieces_n(const lrp_tokenizer *tok, const char *text, size_t len, int add_special) {
    static char out[4096];
    int *ids, n;
    if (!tok) return "NO TOKENIZER";
    if (lrp_tokenizer_encode(tok, text, len, add_special, &ids, &n, &err)) {
        snprintf(out, sizeof out, "ERR: %s", err.msg);
        return out;
    }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *p = lrp_tokenizer_piece(tok, ids[i]);
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "|" : "", p ? p : "?");
    }
    free(ids);
    return out;
}
static const char *pieces(const lrp_tokenizer *tok, const char *text) { return pieces_n(tok, text, strlen(text), 0); }

// decode(ids) (static buffer) or "ERR: ...".
static const char *decode(const lrp_tokenizer *tok, const int *ids, int n, int skip) {
    static char out[4096];
    char *t;
    if (!tok) return "NO TOKENIZER";
    if (lrp_tokenizer_decode(tok, ids, n, skip, &t, &err)) {
        snprintf(out, sizeof out, "ERR: %s", err.msg);
        return out;
    }
    snprintf(out, sizeof out, "%s", t);
    free(t);
    return out;
}

// A WordLevel tokenizer whose vocabulary holds the pieces a test expects, so that encode() shows
// exactly how the normalizer and pre-tokenizer cut the text.
#define WORDLEVEL(vocab) "\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"?\", \"vocab\": {\"?\": 0, " vocab "}}}"

static const char *split_pieces(const char *behavior, int invert, const char *text) {
    static char json[1024];
    snprintf(json, sizeof json,
             "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"%s\", "
             "\"invert\": %s}, " WORDLEVEL("\"the\": 1, \"final\": 2, \"countdown\": 3, \"-\": 4, \"--\": 5, \"the-\": 6, "
                                           "\"final-\": 7, \"-final\": 8, \"-countdown\": 9"),
             behavior, invert ? "true" : "false");
    lrp_tokenizer *tok = mk(json);
    static char out[256];
    snprintf(out, sizeof out, "%s", pieces(tok, text));
    lrp_tokenizer_free(tok);
    return out;
}

// pre_tokenizers/split.rs and NormalizedString::split document these on "the-final--countdown".
TEST(split_behaviors_follow_normalized_string_split) {
    CHECK_STR(split_pieces("Removed", 0, "the-final--countdown"), "the|final|countdown");
    CHECK_STR(split_pieces("Isolated", 0, "the-final--countdown"), "the|-|final|-|-|countdown");
    CHECK_STR(split_pieces("MergedWithPrevious", 0, "the-final--countdown"), "the-|final-|-|countdown");
    CHECK_STR(split_pieces("MergedWithNext", 0, "the-final--countdown"), "the|-final|-|-countdown");
    CHECK_STR(split_pieces("Contiguous", 0, "the-final--countdown"), "the|-|final|--|countdown");
    // invert: the non-matching stretches become the delimiters, so Removed keeps only the dashes.
    CHECK_STR(split_pieces("Removed", 1, "the-final--countdown"), "-|-|-");
}

TEST(split_regex_isolated_keeps_gaps) {
    lrp_tokenizer *tok = mk("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\p{N}+\"}, "
                            "\"behavior\": \"Isolated\", \"invert\": false}, " WORDLEVEL("\"ab\": 1, \"12\": 2, \"c\": 3"));
    CHECK_STR(pieces(tok, "ab12c"), "ab|12|c");
    lrp_tokenizer_free(tok);
}

// pre_tokenizers/whitespace.rs: WhitespaceSplit splits on char::is_whitespace, which counts U+0085
// and U+3000 but not U+FEFF or U+200B.
TEST(whitespace_split_uses_rust_whitespace) {
    lrp_tokenizer *tok = mk("{\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, " WORDLEVEL("\"a\": 1, \"b\": 2"));
    CHECK_STR(pieces(tok, "a\xC2\x85" "b"), "a|b");
    CHECK_STR(pieces(tok, "a\xE3\x80\x80" "b  \t\n"), "a|b");
    CHECK_STR(pieces(tok, "a\xEF\xBB\xBF" "b"), "?");  // "a\uFEFFb" stays one (unknown) word
    lrp_tokenizer_free(tok);
}

// Whitespace pre-tokenizer: \w+|[^\w\s]+ ; Digits; Punctuation; BertPreTokenizer.
TEST(simple_pre_tokenizers) {
    lrp_tokenizer *tok = mk("{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, " WORDLEVEL("\"Hey\": 1, \"friend\": 2, \"!?\": 3"));
    CHECK_STR(pieces(tok, "Hey friend!?"), "Hey|friend|!?");
    lrp_tokenizer_free(tok);
    tok = mk("{\"pre_tokenizer\": {\"type\": \"Digits\", \"individual_digits\": true}, " WORDLEVEL("\"Hey \": 1, \"1\": 2, \"2\": 3"));
    CHECK_STR(pieces(tok, "Hey 12"), "Hey |1|2");
    lrp_tokenizer_free(tok);
    tok = mk("{\"pre_tokenizer\": {\"type\": \"Digits\", \"individual_digits\": false}, " WORDLEVEL("\"Hey \": 1, \"123\": 2, \" friend!\": 3"));
    CHECK_STR(pieces(tok, "Hey 123 friend!"), "Hey |123| friend!");
    lrp_tokenizer_free(tok);
    tok = mk("{\"pre_tokenizer\": {\"type\": \"Punctuation\"}, " WORDLEVEL("\"Hey\": 1, \"!\": 2, \" you\": 3"));
    CHECK_STR(pieces(tok, "Hey! you"), "Hey|!| you");
    lrp_tokenizer_free(tok);
    // BERT: whitespace removed, every punctuation character isolated ($ and + are ASCII punctuation).
    tok = mk("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, " WORDLEVEL("\"Hey\": 1, \"$\": 2, \"+\": 3, \"x\": 4, \"\xE2\x80\x94\": 5"));
    CHECK_STR(pieces(tok, "  Hey$+x \xE2\x80\x94 "), "Hey|$|+|x|\xE2\x80\x94");
    lrp_tokenizer_free(tok);
}

// Metaspace: ' ' -> '▁', prepend per prepend_scheme, split before each '▁' when split is true.
TEST(metaspace_prepend_schemes) {
    const char *vocab = WORDLEVEL("\"\xE2\x96\x81" "a\": 1, \"\xE2\x96\x81" "b\": 2, \"a\": 3, \"\xE2\x96\x81" "a\xE2\x96\x81" "b\": 4, \"<x>\": 5");
    char json[1024];
    snprintf(json, sizeof json,
             "{\"added_tokens\": [{\"id\": 5, \"content\": \"<x>\", \"special\": true}], \"pre_tokenizer\": "
             "{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\", \"split\": true}, %s",
             vocab);
    lrp_tokenizer *tok = mk(json);
    CHECK_STR(pieces(tok, "a b"), "\xE2\x96\x81" "a|\xE2\x96\x81" "b");
    CHECK_STR(pieces(tok, "<x>a"), "<x>|\xE2\x96\x81" "a");
    // the test for a leading '▁' comes after ' ' -> '▁': " a" gets no second '▁' (T5's " a" is "▁a")
    CHECK_STR(pieces(tok, " a"), "\xE2\x96\x81" "a");
    CHECK_STR(pieces(tok, "\xE2\x96\x81" "a"), "\xE2\x96\x81" "a");
    lrp_tokenizer_free(tok);
    snprintf(json, sizeof json,
             "{\"added_tokens\": [{\"id\": 5, \"content\": \"<x>\", \"special\": true}], \"pre_tokenizer\": "
             "{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"first\", \"split\": false}, %s",
             vocab);
    tok = mk(json);
    CHECK_STR(pieces(tok, "a b"), "\xE2\x96\x81" "a\xE2\x96\x81" "b");
    CHECK_STR(pieces(tok, "<x>a"), "<x>|a");  // not at the start of the input: no '▁'
    lrp_tokenizer_free(tok);
    snprintf(json, sizeof json,
             "{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"never\"}, %s",
             vocab);
    tok = mk(json);
    CHECK_STR(pieces(tok, "a"), "a");
    lrp_tokenizer_free(tok);
}

// Normalizers: Unicode forms from utf8proc, Rust to_lowercase (full mapping and final sigma).
TEST(normalizers_transform_text) {
    lrp_tokenizer *tok = mk("{\"normalizer\": {\"type\": \"NFKC\"}, " WORDLEVEL("\"fi\": 1, \"\xC3\xA9\": 2"));
    CHECK_STR(pieces(tok, "\xEF\xAC\x81"), "fi");   // U+FB01 ligature
    CHECK_STR(pieces(tok, "e\xCC\x81"), "\xC3\xA9");  // e + combining acute -> é
    lrp_tokenizer_free(tok);
    tok = mk("{\"normalizer\": {\"type\": \"NFD\"}, " WORDLEVEL("\"e\xCC\x81\": 1"));
    CHECK_STR(pieces(tok, "\xC3\xA9"), "e\xCC\x81");
    lrp_tokenizer_free(tok);
    // U+0130 lowercases to "i" + U+0307; a final capital sigma becomes ς, others σ.
    tok = mk("{\"normalizer\": {\"type\": \"Lowercase\"}, " WORDLEVEL("\"i\xCC\x87stanbul\": 1, \"\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82\": 2, "
                                                                      "\"\xCF\x83\xCE\xB1\": 3"));
    CHECK_STR(pieces(tok, "\xC4\xB0STANBUL"), "i\xCC\x87stanbul");
    CHECK_STR(pieces(tok, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3"), "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82");
    CHECK_STR(pieces(tok, "\xCE\xA3\xCE\x91"), "\xCF\x83\xCE\xB1");
    lrp_tokenizer_free(tok);
    tok = mk("{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFD\"}, {\"type\": \"StripAccents\"}, "
             "{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": true}, {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" +\"}, "
             "\"content\": \"_\"}, {\"type\": \"Prepend\", \"prepend\": \">\"}]}, " WORDLEVEL("\">cafe_na_ive\": 1"));
    CHECK_STR(pieces(tok, "  caf\xC3\xA9  na ive \t"), ">cafe_na_ive");
    CHECK_STR(pieces(tok, ""), "");  // Prepend adds nothing to empty text
    lrp_tokenizer_free(tok);
}

// normalizers/bert.rs: clean_text drops controls and U+FFFD, maps whitespace to ' '; CJK characters
// get spaces around them; strip_accents (null) follows lowercase.
TEST(bert_normalizer) {
    lrp_tokenizer *tok = mk("{\"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true, "
                            "\"strip_accents\": null, \"lowercase\": true}, \"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, "
                            WORDLEVEL("\"cafe\": 1, \"\xE4\xB8\xAD\": 2, \"x\": 3"));
    CHECK_STR(pieces(tok, "CAF\xC3\x89\x01\xEF\xBF\xBD\xE4\xB8\xAD" "x"), "cafe|\xE4\xB8\xAD|x");
    lrp_tokenizer_free(tok);
}

// models/bpe/word.rs merge_all: lowest rank first, ties to the leftmost pair.
TEST(bpe_merges_by_rank_then_leftmost) {
    lrp_tokenizer *tok = mk("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"aa\": 2, \"ab\": 3, \"aab\": 4}, "
                            "\"merges\": [\"a b\", \"a a\", [\"a\", \"ab\"]]}}");
    CHECK_STR(pieces(tok, "aaa"), "aa|a");   // two equal-rank "a a" pairs: the left one merges
    CHECK_STR(pieces(tok, "aab"), "aab");   // "a b" (rank 0) before "a a" (rank 1), then "a ab" (rank 2)
    CHECK_STR(pieces(tok, "aabc"), "aab");  // no unk token: unknown characters are dropped
    lrp_tokenizer_free(tok);
}

TEST(bpe_prefix_suffix_unk_and_byte_fallback) {
    lrp_tokenizer *tok = mk("{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, "
                            "\"continuing_subword_prefix\": \"##\", \"end_of_word_suffix\": \"</w>\", "
                            "\"vocab\": {\"<unk>\": 0, \"a\": 1, \"##b</w>\": 2, \"ab</w>\": 3, \"##a\": 4}, \"merges\": [\"a ##b</w>\"]}}");
    CHECK_STR(pieces(tok, "ab"), "ab</w>");
    CHECK_STR(pieces(tok, "axyb"), "a|<unk>|##b</w>");  // consecutive unknown characters fuse
    lrp_tokenizer_free(tok);
    tok = mk("{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true, "
             "\"vocab\": {\"<unk>\": 0, \"<0xC3>\": 1, \"<0xA9>\": 2, \"a\": 3}, \"merges\": []}, "
             "\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}}");
    CHECK_STR(pieces(tok, "a\xC3\xA9"), "a|<0xC3>|<0xA9>");
    CHECK_STR(pieces(tok, "\xE2\x82\xAC"), "<unk>");  // € has no byte tokens here
    int ids[] = {3, 1, 2, 3, 1, 3};
    // A valid byte run decodes to its character; an invalid one to one U+FFFD per byte.
    CHECK_STR(decode(tok, ids, 6, 0), "a\xC3\xA9" "a\xEF\xBF\xBD" "a");
    lrp_tokenizer_free(tok);
}

TEST(bpe_ignore_merges_takes_whole_words) {
    lrp_tokenizer *tok = mk("{\"model\": {\"type\": \"BPE\", \"ignore_merges\": true, \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, "
                            "\"ab\": 3, \"abc\": 4, \"bc\": 5}, \"merges\": [\"b c\", \"a b\"]}}");
    CHECK_STR(pieces(tok, "abc"), "abc");  // without ignore_merges: "b c" first, then no "a bc" merge
    lrp_tokenizer_free(tok);
    tok = mk("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4, \"bc\": 5}, "
             "\"merges\": [\"b c\", \"a b\"]}}");
    CHECK_STR(pieces(tok, "abc"), "a|bc");
    lrp_tokenizer_free(tok);
}

// models/wordpiece: greedy longest match, "##" continuation, whole word [UNK] if any part fails.
TEST(wordpiece_greedy_longest_match) {
    lrp_tokenizer *tok = mk("{\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"model\": {\"type\": \"WordPiece\", "
                            "\"unk_token\": \"[UNK]\", \"max_input_chars_per_word\": 8, \"vocab\": {\"[UNK]\": 0, \"un\": 1, "
                            "\"##aff\": 2, \"##able\": 3, \"una\": 4, \"##ff\": 5, \"a\": 6}}, "
                            "\"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true}}");
    CHECK_STR(pieces(tok, "unaffable"), "[UNK]");      // longer than max_input_chars_per_word
    CHECK_STR(pieces(tok, "unaff a"), "una|##ff|a");   // longest first: "una", then "##ff"
    CHECK_STR(pieces(tok, "unx"), "[UNK]");
    int ids[] = {1, 2, 3, 6};
    CHECK_STR(decode(tok, ids, 4, 0), "unaffable a");
    lrp_tokenizer_free(tok);
}

// models/unigram: Viterbi maximises the summed log-probabilities; unknown characters cost
// min_score - 10 and consecutive unknowns fuse into one unk token.
TEST(unigram_viterbi_best_path) {
    lrp_tokenizer *tok = mk("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"a\", -1.0], "
                            "[\"b\", -1.0], [\"ab\", -1.5], [\"abc\", -4.0], [\"c\", -2.0], [\"bc\", -2.0]]}}");
    CHECK_STR(pieces(tok, "ab"), "ab");      // -1.5 beats a+b = -2
    CHECK_STR(pieces(tok, "abc"), "a|bc");   // a+bc = -3.0 beats ab+c = -3.5, abc = -4, a+b+c = -4
    lrp_tokenizer_free(tok);
}

TEST(unigram_unknown_characters_fuse) {
    lrp_tokenizer *tok = mk("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"a\", -1.0]]}}");
    CHECK_STR(pieces(tok, "axyza"), "a|<unk>|a");
    lrp_tokenizer_free(tok);
}

// AddedVocabulary::find_matches: leftmost-longest; lstrip/rstrip absorb whitespace; single_word
// requires word boundaries; normalized tokens match on normalized text.
TEST(added_tokens_match_before_the_model) {
    lrp_tokenizer *tok = mk("{\"added_tokens\": [{\"id\": 10, \"content\": \"<m>\", \"lstrip\": true, \"rstrip\": true, \"special\": true}, "
                            "{\"id\": 11, \"content\": \"<mm>\", \"special\": true}, {\"id\": 12, \"content\": \"cat\", "
                            "\"single_word\": true, \"special\": false, \"normalized\": false}], "
                            "\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, " WORDLEVEL("\"x\": 1, \"y\": 2, \"cats\": 3"));
    CHECK_STR(pieces(tok, "x  <m>  y"), "x|<m>|y");
    CHECK_STR(pieces(tok, "x<mm>y"), "x|<mm>|y");
    CHECK_STR(pieces(tok, "cat cats"), "cat|cats");
    CHECK_STR(pieces(tok, "xcat"), "?");  // not a whole word: left to the model
    lrp_tokenizer_free(tok);
    tok = mk("{\"added_tokens\": [{\"id\": 5, \"content\": \"HI\", \"special\": false, \"normalized\": true}], "
             "\"normalizer\": {\"type\": \"Lowercase\"}, " WORDLEVEL("\"x\": 1"));
    CHECK_STR(pieces(tok, "xHix"), "x|HI|x");  // "Hi" normalizes to "hi", the normalized form of "HI"
    lrp_tokenizer_free(tok);
}

// Post-processors, and tokenizer_config.json's add_bos_token/add_eos_token when the
// post-processor adds nothing.
TEST(post_processors_add_special_tokens) {
    const char *model = "\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"?\", \"vocab\": {\"?\": 0, \"x\": 1, \"<s>\": 2, \"</s>\": 3}}";
    char json[1024];
    snprintf(json, sizeof json, "{\"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"</s>\", 3], \"cls\": [\"<s>\", 2]}, %s}", model);
    lrp_tokenizer *tok = mk(json);
    CHECK_STR(pieces_n(tok, "x", 1, 1), "<s>|x|</s>");
    CHECK_STR(pieces_n(tok, "x", 1, 0), "x");
    lrp_tokenizer_free(tok);
    snprintf(json, sizeof json, "{\"post_processor\": {\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\"}, "
             "{\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": "
             "{\"id\": \"</s>\", \"type_id\": 0}}], \"special_tokens\": {\"</s>\": {\"id\": \"</s>\", \"ids\": [3], \"tokens\": [\"</s>\"]}}}]}, %s}",
             model);
    tok = mk(json);
    CHECK_STR(pieces_n(tok, "x", 1, 1), "x|</s>");
    lrp_tokenizer_free(tok);
    snprintf(json, sizeof json, "{\"post_processor\": {\"type\": \"ByteLevel\"}, %s}", model);
    tok = mk_cfg(json, "{\"add_bos_token\": true, \"add_eos_token\": true, \"bos_token\": {\"content\": \"<s>\"}, \"eos_token\": \"</s>\"}");
    CHECK_STR(pieces_n(tok, "x", 1, 1), "<s>|x|</s>");
    CHECK_STR(pieces_n(tok, "x", 1, 0), "x");
    lrp_tokenizer_free(tok);
}

// A GPT-2-style tokenizer as a hand-built demo model would ship it: ByteLevel pre-tokenizer and
// decoder, byte-level BPE, a template that adds BOS.
TEST(gpt2_style_byte_level_with_bos_template) {
    lrp_tokenizer *tok = mk(
        "{\"added_tokens\": [{\"id\": 9, \"content\": \"<|bos|>\", \"special\": true, \"normalized\": false}], "
        "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}, "
        "\"decoder\": {\"type\": \"ByteLevel\"}, "
        "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<|bos|>\", \"type_id\": 0}}, "
        "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": {\"<|bos|>\": {\"id\": \"<|bos|>\", \"ids\": [9], \"tokens\": [\"<|bos|>\"]}}}, "
        "\"model\": {\"type\": \"BPE\", \"vocab\": {\"h\": 0, \"i\": 1, \"\xC4\xA0\": 2, \"hi\": 3, \"\xC4\xA0hi\": 4, \"\xC4\x8A\": 5, \"!\": 6}, "
        "\"merges\": [[\"h\", \"i\"], [\"\xC4\xA0\", \"hi\"]]}}");
    CHECK_STR(pieces_n(tok, "hi hi!\n", 7, 1), "<|bos|>|hi|\xC4\xA0hi|!|\xC4\x8A");
    int ids[] = {9, 3, 4, 6, 5};
    CHECK_STR(decode(tok, ids, 5, 0), "<|bos|>hi hi!\n");
    CHECK_STR(decode(tok, ids, 5, 1), "hi hi!\n");
    CHECK(lrp_tokenizer_vocab_size(tok) == 10);
    CHECK(lrp_tokenizer_is_special(tok, 9) && !lrp_tokenizer_is_special(tok, 3));
    CHECK(lrp_tokenizer_piece(tok, 7) == NULL && lrp_tokenizer_piece(tok, 10) == NULL);
    CHECK(lrp_tokenizer_token_id(tok, "\xC4\xA0hi") == 4);
    char buf[16];
    CHECK(lrp_tokenizer_token_text(tok, 4, buf, sizeof buf) == 3);
    CHECK_STR(buf, " hi");
    lrp_tokenizer_token_text(tok, 5, buf, sizeof buf);
    CHECK_STR(buf, "\n");
    lrp_tokenizer_free(tok);
}

// Display text of single tokens: Metaspace "▁" -> " " even for a first token, byte tokens,
// WordPiece continuations, truncation at a character boundary.
TEST(token_text_is_readable) {
    lrp_tokenizer *tok = mk(
        "{\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"\xE2\x96\x81\"}, "
        "\"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]}, "
        "\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xE2\x96\x81Paris\": 0, \"<0x0A>\": 1, \"\xC3\xA9t\xC3\xA9\": 2}, \"merges\": []}}");
    char buf[8];
    lrp_tokenizer_token_text(tok, 0, buf, sizeof buf);
    CHECK_STR(buf, " Paris");
    lrp_tokenizer_token_text(tok, 1, buf, sizeof buf);
    CHECK_STR(buf, "\n");
    CHECK(lrp_tokenizer_token_text(tok, 2, buf, 5) == 3);  // "été" (5 bytes) cut to 4 would split the last é
    CHECK_STR(buf, "\xC3\xA9t");
    CHECK(lrp_tokenizer_token_text(tok, 2, buf, 3) == 2);
    CHECK_STR(buf, "\xC3\xA9");
    CHECK(lrp_tokenizer_token_text(tok, 99, buf, sizeof buf) == 0 && buf[0] == '\0');
    lrp_tokenizer_free(tok);
    tok = mk("{\"decoder\": {\"type\": \"WordPiece\"}, \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
             "\"vocab\": {\"[UNK]\": 0, \"##ing\": 1, \"go\": 2}}}");
    lrp_tokenizer_token_text(tok, 1, buf, sizeof buf);
    CHECK_STR(buf, "ing");
    lrp_tokenizer_free(tok);
}

TEST(decoders_metaspace_strip_bpe_cleanup) {
    lrp_tokenizer *tok = mk("{\"decoder\": {\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\"}, "
                            "\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"a\", \"vocab\": {\"a\": 0, \"\xE2\x96\x81hi\": 1, \"\xE2\x96\x81you\": 2, \"\xE2\x96\x81\xE2\x96\x81hi\": 3}}}");
    int ids[] = {1, 2};
    CHECK_STR(decode(tok, ids, 2, 0), "hi you");
    int ids1[] = {3, 2};  // decoders/metaspace.rs drops every '▁' of the first token, not only a leading one
    CHECK_STR(decode(tok, ids1, 2, 0), "hi you");
    lrp_tokenizer_free(tok);
    tok = mk("{\"decoder\": {\"type\": \"BPEDecoder\", \"suffix\": \"</w>\"}, "
             "\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"a\", \"vocab\": {\"a\": 0, \"hi</w>\": 1, \"yo\": 2, \"u</w>\": 3}}}");
    int ids2[] = {1, 2, 3};
    CHECK_STR(decode(tok, ids2, 3, 0), "hi you");
    lrp_tokenizer_free(tok);
    // No decoder: tokens joined by spaces; clean_up_tokenization_spaces from tokenizer_config.json.
    tok = mk_cfg("{\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"a\", \"vocab\": {\"a\": 0, \"it\": 1, \"'s\": 2, \".\": 3}}}",
                 "{\"clean_up_tokenization_spaces\": true}");
    int ids3[] = {1, 2, 3};
    CHECK_STR(decode(tok, ids3, 3, 0), "it's.");
    lrp_tokenizer_free(tok);
}

// Errors name the JSON path (load), the byte offset (invalid UTF-8) or the id (decode).
TEST(errors_name_what_is_wrong) {
    lrp_tokenizer *tok = NULL;
    const char *bad[][2] = {
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Sequence\", "
         "\"pretokenizers\": [{\"type\": \"ByteLevel\"}, {\"type\": \"Foo\"}]}}",
         "test.json: pre_tokenizer.pretokenizers[1].type: unsupported pre-tokenizer \"Foo\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a a\"]}}",
         "test.json: model.merges[0]: merged token \"aa\" is not in the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
         "test.json: model.vocab[\"a\"]: expected a non-negative integer id"},
        {"{\"model\": {\"type\": \"Mystery\"}}", "test.json: model.type: unsupported model \"Mystery\""},
        {"{\"normalizer\": null}", "test.json: model: missing"},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}, \"unk_token\": \"[UNK]\"}}",
         "test.json: model.unk_token: token \"[UNK]\" is not in the vocabulary"},
        {"{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}, \"unk_token\": \"a\"}, \"normalizer\": {\"type\": \"Sequence\", "
         "\"normalizers\": [{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"(\"}, \"content\": \"\"}]}}",
         "test.json: normalizer.normalizers[0].pattern.Regex: invalid regex: end pattern with unmatched parenthesis"},
        {"{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}, \"unk_token\": \"a\"}, \"normalizer\": {\"type\": "
         "\"Precompiled\", \"precompiled_charsmap\": \"CAAAAAEA\"}}",
         "test.json: normalizer.precompiled_charsmap: not a SentencePiece charsmap"},
        {"{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}, \"unk_token\": \"a\"}, \"decoder\": {\"type\": \"CTC\"}}",
         "test.json: decoder.type: unsupported decoder \"CTC\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}}",
         "test.json: model.merges[0]: expected \"left right\" with exactly one space"},
        {"{\"model\": 1,}", "test.json: invalid JSON at line 1 column 13: expected a string key"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\\ud800\": 0}, \"merges\": []}}",
         "test.json: invalid JSON at line 1 column 38: unpaired surrogate in \\u escape"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CHECK(lrp_tokenizer_load_json(&tok, bad[i][0], strlen(bad[i][0]), NULL, "test.json", &err) == -1);
        CHECK(tok == NULL);
        CHECK_STR(err.msg, bad[i][1]);
    }
    char deep[301];
    memset(deep, '[', 300);
    deep[300] = '\0';
    CHECK(lrp_tokenizer_load_json(&tok, deep, 300, NULL, "test.json", &err) == -1);
    CHECK_STR(err.msg, "test.json: invalid JSON at line 1 column 258: nesting too deep");
    tok = mk("{\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"a\", \"vocab\": {\"a\": 0}}}");
    int *ids = NULL, n = -1;
    CHECK(lrp_tokenizer_encode(tok, "ab\xE2\x82" "c", 5, 1, &ids, &n, &err) == -1);
    CHECK_STR(err.msg, "invalid UTF-8 at byte offset 2 (byte 0xE2)");
    CHECK(ids == NULL && n == 0);
    CHECK(lrp_tokenizer_encode(tok, "\xC0\x80", 2, 1, &ids, &n, &err) == -1);  // overlong NUL
    CHECK(lrp_tokenizer_encode(tok, "\xED\xA0\x80", 3, 1, &ids, &n, &err) == -1);  // surrogate
    int bad_ids[] = {0, 7};
    CHECK_STR(decode(tok, bad_ids, 2, 0), "ERR: id 7 at index 1 is not in the vocabulary (size 1)");
    lrp_tokenizer_free(tok);
    CHECK(lrp_tokenizer_load(&tok, "/nonexistent/dir", &err) == -1);
    CHECK_STR(err.msg, "/nonexistent/dir: No such file or directory");
}

// Empty text, text with NUL bytes and a long word encode without trouble.
TEST(hostile_inputs) {
    lrp_tokenizer *tok = mk("{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false}, \"model\": {\"type\": \"BPE\", "
                            "\"vocab\": {\"a\": 0, \"aa\": 1, \"aaaa\": 2, \"\xC4\x80\": 3}, \"merges\": [\"a a\", \"aa aa\"]}}");
    CHECK_STR(pieces_n(tok, "", 0, 1), "");
    CHECK_STR(pieces_n(tok, "a\0a", 3, 1), "a|\xC4\x80|a");  // NUL is byte 0 -> U+0100
    size_t n = 100001;
    char *big = malloc(n);
    memset(big, 'a', n);
    int *ids, cnt;
    CHECK(lrp_tokenizer_encode(tok, big, n, 1, &ids, &cnt, &err) == 0);
    CHECK(cnt == 25001);  // 25000 "aaaa" then one "a"
    CHECK(ids[0] == 2 && ids[24999] == 2 && ids[25000] == 0);
    free(ids);
    free(big);
    lrp_tokenizer_free(tok);
}

// "ids/type_ids" of encode_pair (static buffer), or "ERR: <message>".
static const char *pair_str(const lrp_tokenizer *tok, const char *a, const char *b, int add_special) {
    static char out[2048];
    int *ids, *types, n;
    if (!tok) return "NO TOKENIZER";
    if (lrp_tokenizer_encode_pair(tok, a, strlen(a), b, b ? strlen(b) : 0, add_special, &ids, &types, &n, &err)) {
        snprintf(out, sizeof out, "ERR: %s", err.msg);
        return out;
    }
    out[0] = '\0';
    for (int i = 0; i < n; i++) snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d", i ? " " : "", ids[i]);
    snprintf(out + strlen(out), sizeof out - strlen(out), " /");
    for (int i = 0; i < n; i++) snprintf(out + strlen(out), sizeof out - strlen(out), " %d", types[i]);
    free(ids);
    free(types);
    return out;
}

#define PAIR_MODEL "\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"?\", \"vocab\": {\"?\": 0, \"x\": 1, \"y\": 2, \"[CLS]\": 3, \"[SEP]\": 4}}"

// processors/bert.rs: [CLS] A [SEP] B [SEP] with type ids 0 through the first [SEP] and 1 after;
// without special tokens A keeps 0 and B 1. A single text gets the single layout, type ids 0.
TEST(bert_processing_pair_type_ids) {
    lrp_tokenizer *tok = mk("{\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"post_processor\": {\"type\": \"BertProcessing\", "
                            "\"sep\": [\"[SEP]\", 4], \"cls\": [\"[CLS]\", 3]}, " PAIR_MODEL "}");
    CHECK(lrp_tokenizer_can_encode_pair(tok));
    CHECK_STR(pair_str(tok, "x x", "y", 1), "3 1 1 4 2 4 / 0 0 0 0 1 1");
    CHECK_STR(pair_str(tok, "x x", "y", 0), "1 1 2 / 0 0 1");
    CHECK_STR(pair_str(tok, "", "", 1), "3 4 4 / 0 0 1");
    CHECK_STR(pair_str(tok, "x", NULL, 1), "3 1 4 / 0 0 0");
    lrp_tokenizer_free(tok);
}

// A tokenizer whose post-processor cannot join two texts refuses a pair (but not a single text);
// so does a TemplateProcessing without a "pair" template. Templates that HF rejects at load are
// rejected here too.
TEST(pair_needs_a_pair_capable_post_processor) {
    const char *no_pair = "ERR: tokenizer.json: post_processor has no pair template: this tokenizer cannot encode a text pair";
    lrp_tokenizer *tok = mk("{" PAIR_MODEL "}");
    CHECK(!lrp_tokenizer_can_encode_pair(tok));
    CHECK_STR(pair_str(tok, "x", "y", 1), no_pair);
    CHECK_STR(pair_str(tok, "x", NULL, 1), "1 / 0");
    lrp_tokenizer_free(tok);
    tok = mk("{\"post_processor\": {\"type\": \"ByteLevel\"}, " PAIR_MODEL "}");
    CHECK(!lrp_tokenizer_can_encode_pair(tok));
    lrp_tokenizer_free(tok);
    const char *single_only = "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", "
                              "\"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 7}}], \"special_tokens\": {\"[CLS]\": "
                              "{\"id\": \"[CLS]\", \"ids\": [3], \"tokens\": [\"[CLS]\"]}}}, " PAIR_MODEL "}";
    tok = mk(single_only);
    CHECK(!lrp_tokenizer_can_encode_pair(tok));
    CHECK_STR(pair_str(tok, "x", "y", 1), no_pair);
    CHECK_STR(pair_str(tok, "x", NULL, 1), "3 1 / 0 7");
    CHECK_STR(pair_str(tok, "x", NULL, 0), "1 / 7");
    lrp_tokenizer_free(tok);
    const char *bad[][2] = {
        {"{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], "
         "\"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": {}}, " PAIR_MODEL "}",
         "test.json: post_processor.pair: must use both $A and $B"},
        {"{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"B\", \"type_id\": 0}}], "
         "\"special_tokens\": {}}, " PAIR_MODEL "}",
         "test.json: post_processor.single: uses $B, which a single sequence does not have"},
        {"{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"C\", \"type_id\": 0}}], "
         "\"special_tokens\": {}}, " PAIR_MODEL "}",
         "test.json: post_processor.single[0].Sequence.id: expected \"A\" or \"B\""},
        {"{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": -1}}], "
         "\"special_tokens\": {}}, " PAIR_MODEL "}",
         "test.json: post_processor.single[0].type_id: expected a non-negative integer"},
        {"{\"post_processor\": {\"type\": \"Sequence\", \"processors\": [{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 4], "
         "\"cls\": [\"[CLS]\", 3]}, {\"type\": \"RobertaProcessing\", \"sep\": [\"[SEP]\", 4], \"cls\": [\"[CLS]\", 3]}]}, " PAIR_MODEL "}",
         "test.json: post_processor.processors: more than one processor that adds special tokens"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lrp_tokenizer *t = NULL;
        CHECK(lrp_tokenizer_load_json(&t, bad[i][0], strlen(bad[i][0]), NULL, "test.json", &err) == -1);
        CHECK_STR(err.msg, bad[i][1]);
    }
}

// Invalid UTF-8 in the second text names it.
TEST(pair_errors_name_the_text) {
    lrp_tokenizer *tok = mk("{\"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"[SEP]\", 4], \"cls\": [\"[CLS]\", 3]}, "
                            PAIR_MODEL "}");
    CHECK_STR(pair_str(tok, "x", "y\xFF", 1), "ERR: text pair: invalid UTF-8 at byte offset 1 (byte 0xFF)");
    CHECK_STR(pair_str(tok, "\xFF", "y", 1), "ERR: text: invalid UTF-8 at byte offset 0 (byte 0xFF)");
    CHECK_STR(pair_str(tok, "x", "y", 1), "3 1 4 4 2 4 / 0 0 0 0 0 0");
    lrp_tokenizer_free(tok);
}

// The mask token: tokenizer_config.json's mask_token, else the added token "[MASK]" or "<mask>".
TEST(mask_token_id) {
    const char *model = "\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"?\", \"vocab\": {\"?\": 0, \"[MASK]\": 1, \"<mask>\": 2, \"_m_\": 3}}";
    char json[1024];
    snprintf(json, sizeof json, "{%s}", model);
    lrp_tokenizer *tok = mk(json);
    CHECK(lrp_tokenizer_mask_id(tok) == -1);  // in the vocabulary but not an added token
    lrp_tokenizer_free(tok);
    snprintf(json, sizeof json, "{\"added_tokens\": [{\"id\": 2, \"content\": \"<mask>\", \"special\": true}], %s}", model);
    tok = mk(json);
    CHECK(lrp_tokenizer_mask_id(tok) == 2);
    lrp_tokenizer_free(tok);
    snprintf(json, sizeof json, "{\"added_tokens\": [{\"id\": 2, \"content\": \"<mask>\", \"special\": true}, {\"id\": 1, "
             "\"content\": \"[MASK]\", \"special\": true}], %s}", model);
    tok = mk(json);
    CHECK(lrp_tokenizer_mask_id(tok) == 1);
    lrp_tokenizer_free(tok);
    tok = mk_cfg(json, "{\"mask_token\": \"_m_\"}");
    CHECK(lrp_tokenizer_mask_id(tok) == 3);
    lrp_tokenizer_free(tok);
}

TEST_MAIN(T(bert_processing_pair_type_ids), T(pair_needs_a_pair_capable_post_processor), T(pair_errors_name_the_text),
          T(mask_token_id), T(split_behaviors_follow_normalized_string_split), T(split_regex_isolated_keeps_gaps),
          T(whitespace_split_uses_rust_whitespace), T(simple_pre_tokenizers), T(metaspace_prepend_schemes),
          T(normalizers_transform_text), T(bert_normalizer), T(bpe_merges_by_rank_then_leftmost),
          T(bpe_prefix_suffix_unk_and_byte_fallback), T(bpe_ignore_merges_takes_whole_words),
          T(wordpiece_greedy_longest_match), T(unigram_viterbi_best_path), T(unigram_unknown_characters_fuse),
          T(added_tokens_match_before_the_model), T(post_processors_add_special_tokens),
          T(gpt2_style_byte_level_with_bos_template), T(token_text_is_readable), T(decoders_metaspace_strip_bpe_cleanup),
          T(errors_name_what_is_wrong), T(hostile_inputs))
