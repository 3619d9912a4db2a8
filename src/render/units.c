#include "render/units.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lrp_utf8_char_len(const unsigned char *s) {
    unsigned c = s[0];
    int n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
    else return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void lrp_units_free(lrp_units *u) {
    for (int i = 0; u->text && i < u->n; i++) free(u->text[i]);
    free(u->text);
    free(u->first);
    free(u->last);
    free(u->relevance);
    memset(u, 0, sizeof *u);
}

// The bytes [a, b) of the stream as display text: whole characters as they are, stray bytes as <0xNN>.
static char *display_text(const unsigned char *s, size_t a, size_t b) {
    char *out = malloc(6 * (b - a) + 1), *o = out;
    if (!out) return NULL;
    for (size_t p = a; p < b;) {
        int n = lrp_utf8_char_len(s + p);
        if (n == 0 || p + (size_t)n > b) {
            o += sprintf(o, "<0x%02X>", s[p]);
            p++;
        } else {
            memcpy(o, s + p, (size_t)n);
            o += n;
            p += (size_t)n;
        }
    }
    *o = '\0';
    return out;
}

int lrp_units_build(char *const *tokens, int T, const unsigned char *word_start, const float *rel, lrp_units *u) {
    memset(u, 0, sizeof *u);
    if (T <= 0) return 0;
    size_t total = 0;
    size_t *off = malloc(((size_t)T + 1) * sizeof *off);      // byte offset of each token in the stream
    unsigned char *joined = calloc((size_t)T, 1);             // joined[t]: token t continues unit of t-1
    int *owner = NULL;
    unsigned char *s = NULL;
    if (!off || !joined) goto oom;
    for (int t = 0; t < T; t++) {
        off[t] = total;
        total += strlen(tokens[t] ? tokens[t] : "");
    }
    off[T] = total;
    s = malloc(total + 1);
    owner = malloc((total + 1) * sizeof *owner);
    if (!s || !owner) goto oom;
    for (int t = 0; t < T; t++) {
        memcpy(s + off[t], tokens[t] ? tokens[t] : "", off[t + 1] - off[t]);
        for (size_t p = off[t]; p < off[t + 1]; p++) owner[p] = t;
    }
    s[total] = '\0';
    // One scan over the whole stream: a character whose bytes lie in several tokens joins them.
    for (size_t p = 0; p < total;) {
        int n = lrp_utf8_char_len(s + p);
        if (n == 0) {
            p++;
            continue;
        }
        for (int t = owner[p] + 1; t <= owner[p + (size_t)n - 1]; t++) joined[t] = 1;
        p += (size_t)n;
    }
    // Tokens with no bytes (e.g. a special token shown as nothing) inside a character run stay joined.
    int n_units = 0;
    for (int t = 0; t < T; t++) n_units += t == 0 || (!joined[t] && (!word_start || word_start[t]));
    u->first = malloc((size_t)n_units * sizeof(int));
    u->last = malloc((size_t)n_units * sizeof(int));
    u->text = calloc((size_t)n_units, sizeof(char *));
    u->relevance = calloc((size_t)n_units, sizeof(double));
    if (!u->first || !u->last || !u->text || !u->relevance) goto oom;
    u->n = n_units;
    int k = -1;
    for (int t = 0; t < T; t++) {
        if (t == 0 || (!joined[t] && (!word_start || word_start[t]))) u->first[++k] = t;
        u->last[k] = t;
        if (rel) u->relevance[k] += rel[t];
    }
    for (k = 0; k < n_units; k++)
        if (!(u->text[k] = display_text(s, off[u->first[k]], off[u->last[k] + 1]))) goto oom;
    free(off);
    free(joined);
    free(owner);
    free(s);
    return 0;
oom:
    free(off);
    free(joined);
    free(owner);
    free(s);
    lrp_units_free(u);
    return -1;
}
