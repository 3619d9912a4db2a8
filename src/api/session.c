#include "api/session.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LRP_DATADIR
#define LRP_DATADIR "/usr/local/share/attnlrp"
#endif

static int is_model_dir(const char *p) {
    char cfg[PATH_MAX + 32];
    struct stat st;
    snprintf(cfg, sizeof cfg, "%s/config.json", p);
    return stat(cfg, &st) == 0;
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
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
        const char *rel[] = {"/../models/default", "/../share/attnlrp/default"};
        for (size_t i = 0; i < 2; i++) {
            snprintf(buf, cap, "%s%s", dir, rel[i]);
            if (is_model_dir(buf)) return 0;
        }
    }
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
    return lrp_encode_text(s->tok, &s->m->cfg, text, strlen(text), pair, pair ? strlen(pair) : 0, out, err);
}

int lrp_session_target(const lrp_session *s, const char *param, const char *text, int *id, lrp_err *err) {
    return lrp_resolve_target(&s->m->cfg, s->tok, param, text, id, err);
}
