#include "inputs/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lrp_chat_family(const char *t) {
    if (!t) return NULL;
    if (strstr(t, "<|start_header_id|>") && strstr(t, "<|eot_id|>")) return "llama-3";
    if (strstr(t, "<|im_start|>") && strstr(t, "<|im_end|>")) return "chatml";
    if (strstr(t, "<start_of_turn>") && strstr(t, "<end_of_turn>")) return "gemma";
    if (strstr(t, "<|user|>") && strstr(t, "<|assistant|>") && strstr(t, "<|end|>")) return "phi-3";
    if (strstr(t, "[INST]") && strstr(t, "[/INST]")) return "llama-2";
    return NULL;
}

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// A chatml template's fixed system turn for messages without one: the first "<|im_start|>system" whose
// turn is a plain string literal up to "<|im_end|>" (Jinja escapes \n, \t, \\, \', \" decoded).
static void default_system(const char *t, sbuf *b) {
    static const char mark[] = "<|im_start|>system";
    for (const char *s = strstr(t, mark); s; s = strstr(s + 1, mark)) {
        const char *p = s + strlen(mark), *end = strstr(p, "<|im_end|>");
        if (!end) return;
        if (!strncmp(p, "\\n", 2)) p += 2;
        else if (*p == '\n') p++;
        else continue;
        int literal = p < end;
        for (const char *q = p; q < end && literal; q++) literal = !strchr("'\"{}+~", *q) || (q > p && q[-1] == '\\');
        if (!literal) continue;
        puts_(b, "<|im_start|>system\n");
        for (const char *q = p; q < end; q++) {
            if (*q == '\\' && q + 1 < end) {
                q++;
                char c = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q;
                put(b, &c, 1);
            } else {
                put(b, q, 1);
            }
        }
        puts_(b, "<|im_end|>\n");
        return;
    }
}

int lrp_chat_prompt(const char *t, const char *bos, const char *user, char **out, const char **family, lrp_err *err) {
    *out = NULL;
    *family = NULL;
    if (!t || !*t) return lrp_fail(err, "chat_template: the model has no chat template");
    const char *fam = lrp_chat_family(t);
    if (!fam)
        return lrp_fail(err, "chat_template: not one of the known layouts (llama-2, llama-3, chatml, gemma, phi-3); "
                             "give the prompt as it should be read, without --chat");
    if (strstr(t, "Cutting Knowledge Date") || strstr(t, "date_string"))
        return lrp_fail(err, "chat_template: a %s template that writes a dated system turn (Llama 3.1 style) is not "
                        "one of the known layouts", fam);
    int want_bos = strstr(t, "bos_token") != NULL;
    if (want_bos && (!bos || !*bos))
        return lrp_fail(err, "chat_template: the template writes bos_token, but tokenizer_config.json names none");
    int trim = strstr(t, "|trim") || strstr(t, "| trim") || strstr(t, ".strip()");
    size_t a = 0, z = strlen(user);
    if (trim) {
        while (a < z && is_space(user[a])) a++;
        while (z > a && is_space(user[z - 1])) z--;
    }
    sbuf b = {0};
    puts_(&b, "");
    if (want_bos) puts_(&b, bos);
    if (!strcmp(fam, "llama-2")) {
        puts_(&b, strstr(t, "[INST] ") ? "[INST] " : "[INST]");
        put(&b, user + a, z - a);
        puts_(&b, strstr(t, " [/INST]") ? " [/INST]" : "[/INST]");
    } else if (!strcmp(fam, "llama-3")) {
        puts_(&b, "<|start_header_id|>user<|end_header_id|>\n\n");
        put(&b, user + a, z - a);
        puts_(&b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    } else if (!strcmp(fam, "chatml")) {
        default_system(t, &b);
        puts_(&b, "<|im_start|>user\n");
        put(&b, user + a, z - a);
        puts_(&b, "<|im_end|>\n<|im_start|>assistant\n");
    } else if (!strcmp(fam, "gemma")) {
        puts_(&b, "<start_of_turn>user\n");
        put(&b, user + a, z - a);
        puts_(&b, "<end_of_turn>\n<start_of_turn>model\n");
    } else {  // phi-3
        puts_(&b, "<|user|>\n");
        put(&b, user + a, z - a);
        puts_(&b, "<|end|>\n<|assistant|>\n");
    }
    if (b.oom) {
        free(b.p);
        return lrp_fail(err, "out of memory");
    }
    *out = b.p;
    *family = fam;
    return 0;
}
