// Display units of a token sequence: what the text and HTML views colour and list.
//
// Characters: byte-level BPE and byte-fallback tokenizers split a multi-byte UTF-8 character across
// tokens ("日" = <0xE6><0x97><0xA5>), so a token's own bytes need not be valid UTF-8. The character units
// are the shortest runs of consecutive tokens whose bytes together hold only whole characters: a token
// that holds whole characters is a unit by itself, tokens sharing a character are merged into one unit.
// A byte that belongs to no valid character in the whole sequence (a truncated or stray byte) is shown
// as "<0xNN>". The unit texts are therefore valid UTF-8, and their concatenation is the tokens' bytes
// with only those stray bytes replaced (the detokenized text, for tokenizers that decode token by token).
//
// Words: unions of character units, a new word at each unit whose first token starts a word
// (lrp_tokenizer_word_starts; a word start inside a merged character is ignored).
//
// A unit's relevance is the sum of the relevance of its tokens (in double).
#ifndef LRP_RENDER_UNITS_H
#define LRP_RENDER_UNITS_H

typedef struct lrp_units {
    int n;             // number of units
    int *first, *last; // [n] first and last token of each unit (inclusive)
    char **text;       // [n] display text, valid UTF-8, malloc'ed
    double *relevance; // [n] sum of the relevance of the unit's tokens (0 when rel is NULL)
} lrp_units;

// tokens: [T] the tokens' decoded bytes (NUL-terminated); word_start: [T] or NULL (character units only);
// rel: [T] or NULL. Returns 0, or -1 when out of memory (u is then empty).
int lrp_units_build(char *const *tokens, int T, const unsigned char *word_start, const float *rel, lrp_units *u);
void lrp_units_free(lrp_units *u);

// Length of the valid UTF-8 character at s (1..4; shortest form, no surrogates, at most U+10FFFF), or 0.
int lrp_utf8_char_len(const unsigned char *s);

#endif
