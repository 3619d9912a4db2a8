// Where words start in a token sequence (for word-level views of an explanation, `--aggregate word`).
//
// A word is what inseq's word view sums sub-tokens into:
//   - tokenizers with a continuing-subword prefix (WordPiece "##", also BPE models that declare one): a
//     token starts a word unless its vocabulary string begins with that prefix;
//   - tokenizers with an end-of-word suffix (BPE "</w>"): the token after one whose string ends with it;
//   - every other tokenizer (byte-level BPE "Ġ", SentencePiece "▁", byte fallback, Unigram, WordLevel):
//     a token starts a word when its decoded text begins with whitespace or the previous token's decoded
//     text ends with whitespace; but a token that is only whitespace (" " before a byte-level "日", or
//     SentencePiece's lone "▁") joins the word after it.
// In all of them the first token starts a word, and a special token (BOS, [CLS], [SEP], ...) is a word of
// its own (it starts one and so does the token after it). Punctuation without a space before it stays with
// the word before it ("world," is one word), as in the decoded text.
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/tokenizer.h"

static int is_space_byte(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

void lrp_tokenizer_word_starts(const lrp_tokenizer *tok, const int *ids, int n, unsigned char *start) {
    const tk_model *m = &tok->model;
    int prev_special = 0, prev_space_end = 0, prev_suffix_end = 0, prev_all_space = 0;
    for (int t = 0; t < n; t++) {
        int id = ids[t];
        const char *piece = lrp_tokenizer_piece(tok, id);
        size_t plen = piece ? tok->piece_len[id] : 0;
        int special = lrp_tokenizer_is_special(tok, id) || !piece;
        char buf[256];
        int len = lrp_tokenizer_token_text(tok, id, buf, sizeof buf);
        int s;
        if (t == 0 || special || prev_special) {
            s = 1;
        } else if (m->prefix_len) {
            s = !(plen >= m->prefix_len && memcmp(piece, m->prefix, m->prefix_len) == 0);
        } else if (m->suffix_len) {
            s = prev_suffix_end;
        } else {
            s = !prev_all_space && (prev_space_end || (len > 0 && is_space_byte((unsigned char)buf[0])));
        }
        start[t] = (unsigned char)s;
        prev_special = special;
        prev_space_end = len > 0 && is_space_byte((unsigned char)buf[len - 1]);
        prev_all_space = len > 0;
        for (int i = 0; i < len; i++) prev_all_space &= is_space_byte((unsigned char)buf[i]);
        prev_suffix_end = m->suffix_len && plen >= m->suffix_len &&
                          memcmp(piece + plen - m->suffix_len, m->suffix, m->suffix_len) == 0;
    }
}
