#include "api/session.h"

#include <dlfcn.h>
#include <jansson.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "inputs/chat.h"

#ifndef LRP_DATADIR
#define LRP_DATADIR "/usr/local/share/attnlrp"
#endif

static int is_model_dir(const char *p) {
    char cfg[PATH_MAX + 32];
    struct stat st;
    snprintf(cfg, sizeof cfg, "%s/config.json", p);
    return stat(cfg, &st) == 0;
}

// models/default beside the build directory holding file (<repo>/build/x -> <repo>/models/default), or
// share/attnlrp/default beside an installed bin/ or lib/ (<prefix>/lib/x -> <prefix>/share/attnlrp/default).
static int model_beside(const char *file, char *buf, size_t cap) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    const char *rel[] = {"/../models/default", "/../share/attnlrp/default"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(buf, cap, "%s%s", dir, rel[i]);
        if (is_model_dir(buf)) return 1;
    }
    return 0;
}

int lrp_default_model_path(const char *exe, char *buf, size_t cap, lrp_err *err) {
    const char *env = getenv("ATTNLRP_MODEL");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return 0;
    }
    char dir[PATH_MAX];
    ssize_t n = -1;
    if (exe) n = (ssize_t)snprintf(dir, sizeof dir, "%s", exe);
    else n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0 && (size_t)n < sizeof dir) {
        dir[n] = '\0';
        if (model_beside(dir, buf, cap)) return 0;
    }
    // The library's own file when it is a shared library another program loaded (libattnlrp.so under
    // Python, say): beside its build directory or its installed lib/.
    Dl_info di;
    if (!exe && dladdr((void *)lrp_default_model_path, &di) && di.dli_fname && strchr(di.dli_fname, '/') &&
        model_beside(di.dli_fname, buf, cap))
        return 0;
    snprintf(buf, cap, "%s", LRP_DATADIR "/default");
    if (is_model_dir(buf)) return 0;
    return lrp_fail(err, "model: none given and no default model found (set ATTNLRP_MODEL or give a model path)");
}

static int is_gguf_file(const char *path) {
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    int gguf = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (f) fclose(f);
    return gguf;
}

int lrp_session_open(lrp_session *s, const char *path, lrp_err *err) {
    memset(s, 0, sizeof *s);
    if (path) snprintf(s->model_path, sizeof s->model_path, "%s", path);
    else if (lrp_default_model_path(NULL, s->model_path, sizeof s->model_path, err)) return -1;
    if (lrp_model_open(&s->m, s->model_path, err)) return -1;
    if (!strcmp(s->m->format, "gguf")) {
        if (lrp_tokenizer_from_gguf(&s->tok, &s->m->tf, s->model_path, err)) goto fail;
        return 0;
    }
    struct stat st;
    char p[4200];
    snprintf(p, sizeof p, "%s/tokenizer.json", s->model_path);
    if (stat(s->model_path, &st) != 0 || !S_ISDIR(st.st_mode) || stat(p, &st) != 0) return 0;
    if (lrp_tokenizer_load(&s->tok, s->model_path, err)) goto fail;
    return 0;
fail:
    lrp_session_close(s);
    return -1;
}

void lrp_session_close(lrp_session *s) {
    if (s->tok) lrp_tokenizer_free(s->tok);
    lrp_model_close(s->m);
    memset(s, 0, sizeof *s);
}

int lrp_tokenizer_open(const char *path, lrp_tokenizer **tok, lrp_err *err) {
    char buf[4096];
    *tok = NULL;
    if (!path) {
        if (lrp_default_model_path(NULL, buf, sizeof buf, err)) return -1;
        path = buf;
    }
    if (is_gguf_file(path)) return lrp_tokenizer_from_gguf_file(tok, path, err);
    return lrp_tokenizer_load(tok, path, err);
}

int lrp_session_encode(const lrp_session *s, const char *text, const char *pair, lrp_text_inputs *out, lrp_err *err) {
    memset(out, 0, sizeof *out);
    if (!s->tok)
        return lrp_fail(err, "text: %s has no tokenizer (no tokenizer.json beside it): give token ids", s->model_path);
    return lrp_encode_text(s->tok, s->m ? &s->m->cfg : NULL, text, strlen(text), pair, pair ? strlen(pair) : 0, out,
                           err);
}

int lrp_session_encode_prompt(const lrp_session *s, const char *text, size_t len, const char *pair, int no_special,
                              int chat, lrp_text_inputs *out, char **prompt, const char **family, int *stage,
                              lrp_err *err) {
    memset(out, 0, sizeof *out);
    if (prompt) *prompt = NULL;
    if (family) *family = NULL;
    *stage = LRP_PROMPT_ENCODE;
    if (!no_special && !chat) {
        if (!s->tok) return lrp_session_encode(s, text, pair, out, err);  // its error: no tokenizer
        return lrp_encode_text(s->tok, s->m ? &s->m->cfg : NULL, text, len, pair, pair ? strlen(pair) : 0, out, err);
    }
    char *rendered = NULL;
    const char *fam = NULL;
    *stage = LRP_PROMPT_TEMPLATE;
    if (chat && lrp_session_chat_prompt(s, text, &rendered, &fam, err)) return -1;
    const char *src = chat ? rendered : text;
    int *types = NULL;
    *stage = LRP_PROMPT_RAW;
    if (lrp_tokenizer_encode_pair(s->tok, src, chat ? strlen(src) : len, pair, pair ? strlen(pair) : 0, 0, &out->ids,
                                  &types, &out->T, err)) {
        free(rendered);
        return -1;
    }
    if (s->m && s->m->cfg.type_vocab_size > 0) out->token_types = types;
    else free(types);
    if (prompt) *prompt = rendered;
    else free(rendered);
    if (family) *family = fam;
    return 0;
}

int lrp_session_target(const lrp_session *s, const char *param, const char *text, int *id, lrp_err *err) {
    return lrp_resolve_target(&s->m->cfg, s->tok, param, text, id, err);
}

// A whole small text file (NULL when missing or unreadable).
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *q = realloc(buf, cap = (n + 4096 + 1) * 2);
            if (!q) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = q;
        }
        size_t k = fread(buf + n, 1, 4096, f);
        n += k;
        if (k < 4096) break;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

int lrp_session_chat_prompt(const lrp_session *s, const char *text, char **prompt, const char **family, lrp_err *err) {
    *prompt = NULL;
    *family = NULL;
    char *tmpl = NULL, *bos = NULL, *eos = NULL;
    if (!strcmp(s->m->format, "gguf")) {
        const char *t = lrp_gguf_get_string(&s->m->tf, "tokenizer.chat_template");
        const lrp_config *c = &s->m->cfg;
        const char *b = s->tok && c->bos_token_id >= 0 ? lrp_tokenizer_piece(s->tok, c->bos_token_id) : NULL;
        const char *e = s->tok && c->n_eos > 0 ? lrp_tokenizer_piece(s->tok, c->eos_token_ids[0]) : NULL;
        tmpl = t ? strdup(t) : NULL;
        bos = b ? strdup(b) : NULL;
        eos = e ? strdup(e) : NULL;
    } else {
        char p[4200];
        snprintf(p, sizeof p, "%s/tokenizer_config.json", s->model_path);
        json_error_t je;
        json_t *root = json_load_file(p, 0, &je);
        if (!root && access(p, F_OK) == 0)
            return lrp_fail(err, "chat_template: %s: line %d: %s", p, je.line, je.text);
        json_t *ct = json_object_get(root, "chat_template"), *bt = json_object_get(root, "bos_token");
        json_t *et = json_object_get(root, "eos_token");
        if (json_is_array(ct)) {  // [{"name": "default", "template": ...}, ...]
            size_t i;
            json_t *v, *pick = NULL;
            json_array_foreach(ct, i, v) {
                const char *name = json_string_value(json_object_get(v, "name"));
                if (name && !strcmp(name, "default")) pick = json_object_get(v, "template");
            }
            ct = pick;
        }
        if (json_is_object(bt)) bt = json_object_get(bt, "content");
        if (json_is_object(et)) et = json_object_get(et, "content");
        if (json_is_string(et)) eos = strdup(json_string_value(et));
        if (json_is_string(ct)) tmpl = strdup(json_string_value(ct));
        if (json_is_string(bt)) bos = strdup(json_string_value(bt));
        json_decref(root);
        if (!tmpl) {
            snprintf(p, sizeof p, "%s/chat_template.jinja", s->model_path);
            tmpl = slurp(p);
        }
    }
    int rc;
    if (!tmpl || !*tmpl)
        rc = lrp_fail(err, "chat_template: %s has no chat template (no chat_template in tokenizer_config.json, no "
                      "chat_template.jinja%s)", s->model_path, strcmp(s->m->format, "gguf") ? "" : ", no GGUF tokenizer.chat_template");
    else
        rc = lrp_chat_prompt(tmpl, bos, eos, text, prompt, family, err);
    free(tmpl);
    free(bos);
    free(eos);
    return rc;
}
