// The public C API (include/attnlrp.h) over the library's sessions, explain, generate and renderers.
// Only the functions marked ATTNLRP_API are exported from libattnlrp.so (everything is built with
// -fvisibility=hidden). Errors: a status code, and the message in a thread-local buffer.
#include "attnlrp.h"

#include <cblas.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/describe.h"
#include "api/handles.h"
#include "api/session.h"
#include "explain/explain.h"
#include "explain/generate.h"
#include "explain/methods.h"
#include "inputs/image.h"
#include "inputs/text.h"
#include "render/render.h"
#include "render/view.h"

// The sizes of the option structs of attnlrp.h 0.1 (before the fields appended in 0.2), accepted as well.
#define OPTIONS_SIZE_0_1 offsetof(attnlrp_options, token_types)
#define GENERATE_OPTIONS_SIZE_0_1 offsetof(attnlrp_generate_options, chat)

#define SESSION_MAGIC 0x5e5510a1u
#define RESULT_MAGIC 0x4e5a17u

struct attnlrp_session {
    unsigned magic;
    pthread_mutex_t lock;      // one call at a time on the session
    int closed;
    lrp_session ss;
};

struct attnlrp_result {
    unsigned magic;
    lrp_explanation e;
    lrp_render_ctx ctx;        // display strings (api/describe.h), owned
    char model_type[32];
    char **labels;             // classifiers: a copy of the class names (ctx.labels), n_labels
    int n_labels;
    char *chat_prompt;         // options.chat: the prompt the template wrote (ctx.chat_prompt)
    unsigned char *word_start, *decoder_word_start;  // options.aggregate word (ctx.word_start, ...)
    lrp_image img;             // image models: the image as loaded (its displayable copy for heatmaps)
};

// ---- errors ------------------------------------------------------------------------------------------

static _Thread_local char last_error[1024];

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

// A library error: out of memory is NOMEM, everything else the given status.
static int fail_lib(int status, const lrp_err *err) {
    if (!strncmp(err->msg, "out of memory", 13)) status = ATTNLRP_ERR_NOMEM;
    return fail(status, "%s", err->msg);
}

const char *attnlrp_last_error(void) { return last_error; }

const char *attnlrp_status_name(int status) {
    static const char *const names[] = {"ok", "null", "argument", "buffer", "closed", "absent", "model", "nomem", "failed"};
    return status >= 0 && status <= ATTNLRP_ERR_FAILED ? names[status] : "unknown";
}

#ifndef LRP_VERSION
#define LRP_VERSION ATTNLRP_VERSION
#endif

const char *attnlrp_version(void) { return LRP_VERSION; }
int attnlrp_version_number(void) { return ATTNLRP_VERSION_NUMBER; }

// ---- the buffer protocol -----------------------------------------------------------------------------

// count elements of size `elem` from src into buf[cap]; *n = count.
static int copy_out(const char *what, const void *src, size_t count, size_t elem, void *buf, size_t cap, size_t *n) {
    if (!n) return fail(ATTNLRP_ERR_NULL, "n: NULL (the count needed is written there)");
    *n = count;
    if (!buf && cap == 0) return ATTNLRP_OK;
    if (!buf) return fail(ATTNLRP_ERR_NULL, "buf: NULL with cap %zu", cap);
    if (cap < count) return fail(ATTNLRP_ERR_BUFFER, "buf: cap %zu is too small for %s: %zu needed", cap, what, count);
    if (count) memcpy(buf, src, count * elem);
    return ATTNLRP_OK;
}

static int copy_string(const char *what, const char *s, char *buf, size_t cap, size_t *n) {
    return copy_out(what, s, strlen(s) + 1, 1, buf, cap, n);
}

// ---- sessions ----------------------------------------------------------------------------------------

// Checks the handle and takes its lock; on success the caller must unlock.
static int session_enter(attnlrp_session *s) {
    if (!s) return fail(ATTNLRP_ERR_NULL, "session: NULL");
    if (s->magic != SESSION_MAGIC) return fail(ATTNLRP_ERR_ARGUMENT, "session: not an open attnlrp session");
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        return fail(ATTNLRP_ERR_CLOSED, "session: closed (attnlrp_close was called)");
    }
    return ATTNLRP_OK;
}

static void session_leave(attnlrp_session *s) { pthread_mutex_unlock(&s->lock); }

// session_enter for the calls that run the model: a session of attnlrp_open_tokenizer has none.
static int session_enter_model(attnlrp_session *s) {
    int rc = session_enter(s);
    if (rc || s->ss.m) return rc;
    session_leave(s);
    return fail(ATTNLRP_ERR_MODEL, "session: %s was opened with attnlrp_open_tokenizer (a tokenizer, no model)",
                s->ss.model_path);
}

int attnlrp_default_model(char *buf, size_t cap, size_t *n) {
    char path[4096];
    lrp_err err;
    if (lrp_default_model_path(NULL, path, sizeof path, &err)) return fail(ATTNLRP_ERR_MODEL, "%s", err.msg);
    return copy_string("the path", path, buf, cap, n);
}

int attnlrp_open(const char *model, int threads, attnlrp_session **out) {
    if (!out) return fail(ATTNLRP_ERR_NULL, "out: NULL (the session is written there)");
    *out = NULL;
    if (threads < 0) return fail(ATTNLRP_ERR_ARGUMENT, "threads %d: must not be negative (0: leave as is)", threads);
    if (model && !*model) return fail(ATTNLRP_ERR_ARGUMENT, "model: empty path (NULL opens the default model)");
    attnlrp_session *s = calloc(1, sizeof *s);
    if (!s) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
    lrp_err err;
    if (lrp_session_open(&s->ss, model, &err)) {
        free(s);
        return fail_lib(ATTNLRP_ERR_MODEL, &err);
    }
    if (threads > 0) openblas_set_num_threads(threads);
    pthread_mutex_init(&s->lock, NULL);
    s->magic = SESSION_MAGIC;
    *out = s;
    return ATTNLRP_OK;
}

int attnlrp_open_tokenizer(const char *path, attnlrp_session **out) {
    if (!out) return fail(ATTNLRP_ERR_NULL, "out: NULL (the session is written there)");
    *out = NULL;
    if (path && !*path) return fail(ATTNLRP_ERR_ARGUMENT, "path: empty (NULL opens the default model's tokenizer)");
    attnlrp_session *s = calloc(1, sizeof *s);
    if (!s) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
    lrp_err err;
    if (path) snprintf(s->ss.model_path, sizeof s->ss.model_path, "%s", path);
    if ((!path && lrp_default_model_path(NULL, s->ss.model_path, sizeof s->ss.model_path, &err)) ||
        lrp_tokenizer_open(path, &s->ss.tok, &err)) {
        free(s);
        return fail_lib(ATTNLRP_ERR_MODEL, &err);
    }
    pthread_mutex_init(&s->lock, NULL);
    s->magic = SESSION_MAGIC;
    *out = s;
    return ATTNLRP_OK;
}

int attnlrp_close(attnlrp_session *s) {
    if (!s) return fail(ATTNLRP_ERR_NULL, "session: NULL");
    if (s->magic != SESSION_MAGIC) return fail(ATTNLRP_ERR_ARGUMENT, "session: not an open attnlrp session");
    pthread_mutex_lock(&s->lock);
    if (!s->closed) lrp_session_close(&s->ss);
    s->closed = 1;
    pthread_mutex_unlock(&s->lock);
    return ATTNLRP_OK;
}

void attnlrp_session_free(attnlrp_session *s) {
    if (!s || s->magic != SESSION_MAGIC) return;
    attnlrp_close(s);
    s->magic = 0;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int attnlrp_session_info(attnlrp_session *s, attnlrp_model_info *info) {
    if (!info) return fail(ATTNLRP_ERR_NULL, "info: NULL");
    if (info->size != sizeof *info)
        return fail(ATTNLRP_ERR_ARGUMENT, "info.size %zu: expected %zu (sizeof(attnlrp_model_info) of attnlrp.h %s)",
                    info->size, sizeof *info, ATTNLRP_VERSION);
    int rc = session_enter_model(s);
    if (rc) return rc;
    const lrp_config *c = &s->ss.m->cfg;
    memset(info, 0, sizeof *info);
    info->size = sizeof *info;
    snprintf(info->model_type, sizeof info->model_type, "%s", c->model_type);
    snprintf(info->format, sizeof info->format, "%s", s->ss.m->format);
    info->task = (int)c->task;
    info->n_layers = c->num_layers;
    info->hidden_size = c->hidden_size;
    info->n_heads = c->num_heads;
    info->intermediate_size = c->intermediate_size;
    info->vocab_size = c->vocab_size;
    info->n_outputs = lrp_model_n_outputs(s->ss.m);
    info->max_positions = c->max_position_embeddings;
    info->has_tokenizer = s->ss.tok != NULL;
    info->image_size = c->image_size;
    info->channels = c->image_size > 0 ? c->num_channels : 0;
    session_leave(s);
    return ATTNLRP_OK;
}

int attnlrp_model_path(attnlrp_session *s, char *buf, size_t cap, size_t *n) {
    int rc = session_enter(s);
    if (rc) return rc;
    rc = copy_string("the path", s->ss.model_path, buf, cap, n);
    session_leave(s);
    return rc;
}

// ---- tokens ------------------------------------------------------------------------------------------

static int need_tokenizer(const attnlrp_session *s, const char *param) {
    if (s->ss.tok) return ATTNLRP_OK;
    return fail(ATTNLRP_ERR_MODEL, "%s: %s has no tokenizer (no tokenizer.json beside it): give token ids", param,
                s->ss.model_path);
}

// text (and pair) -> ids with or without special tokens; *types kept only when the model has token types.
// chat: text is the user message of the chat template (no pair), encoded without special tokens; *prompt
// (malloc'ed) and *family then say what the template wrote (both may be NULL).
static int encode(const attnlrp_session *s, const char *text, size_t len, const char *pair, int no_special, int chat,
                  lrp_text_inputs *ti, char **prompt, const char **family) {
    lrp_err err;
    memset(ti, 0, sizeof *ti);
    int rc = need_tokenizer(s, "text");
    if (rc) return rc;
    if (chat && pair) return fail(ATTNLRP_ERR_ARGUMENT, "chat: cannot be combined with a text pair");
    if (chat && !s->ss.m)
        return fail(ATTNLRP_ERR_MODEL, "chat: %s was opened with attnlrp_open_tokenizer (the chat template is the "
                    "model's)", s->ss.model_path);
    int stage;  // the attnlrp program encodes its TEXT the same way (api/session.h)
    if (lrp_session_encode_prompt(&s->ss, text, len, pair, no_special, chat, ti, prompt, family, &stage, &err)) {
        if (stage == LRP_PROMPT_RAW) return fail(ATTNLRP_ERR_ARGUMENT, "text: %s", err.msg);
        return fail_lib(stage == LRP_PROMPT_TEMPLATE ? ATTNLRP_ERR_MODEL : ATTNLRP_ERR_ARGUMENT, &err);
    }
    return ATTNLRP_OK;
}

int attnlrp_tokenize(attnlrp_session *s, const char *text, const char *pair, int flags, int *ids, size_t cap,
                     size_t *n) {
    if (!text) return fail(ATTNLRP_ERR_NULL, "text: NULL");
    return attnlrp_tokenize_n(s, text, strlen(text), pair, flags, ids, cap, n);
}

int attnlrp_tokenize_n(attnlrp_session *s, const char *text, size_t len, const char *pair, int flags, int *ids,
                       size_t cap, size_t *n) {
    if (!text) return fail(ATTNLRP_ERR_NULL, "text: NULL");
    if (len > INT_MAX) return fail(ATTNLRP_ERR_ARGUMENT, "len %zu: too long", len);
    if (flags & ~(ATTNLRP_NO_SPECIAL | ATTNLRP_CHAT))
        return fail(ATTNLRP_ERR_ARGUMENT, "flags %d: unknown bits (0, ATTNLRP_NO_SPECIAL, ATTNLRP_CHAT)", flags);
    int rc = session_enter(s);
    if (rc) return rc;
    lrp_text_inputs ti;
    if (!(rc = encode(s, text, len, pair, flags & ATTNLRP_NO_SPECIAL, flags & ATTNLRP_CHAT, &ti, NULL, NULL)))
        rc = copy_out("the token ids", ti.ids, (size_t)ti.T, sizeof(int), ids, cap, n);
    lrp_text_inputs_free(&ti);
    session_leave(s);
    return rc;
}

int attnlrp_detokenize(attnlrp_session *s, const int *ids, size_t n_ids, int flags, char *buf, size_t cap, size_t *n) {
    if (!ids && n_ids) return fail(ATTNLRP_ERR_NULL, "ids: NULL with n_ids %zu", n_ids);
    if (n_ids > INT_MAX) return fail(ATTNLRP_ERR_ARGUMENT, "n_ids %zu: too many", n_ids);
    if (flags & ~ATTNLRP_SKIP_SPECIAL)
        return fail(ATTNLRP_ERR_ARGUMENT, "flags %d: unknown bits (0 or ATTNLRP_SKIP_SPECIAL)", flags);
    int rc = session_enter(s);
    if (rc) return rc;
    char *text = NULL;
    lrp_err err;
    if (!(rc = need_tokenizer(s, "ids"))) {
        if (lrp_tokenizer_decode(s->ss.tok, ids, (int)n_ids, flags & ATTNLRP_SKIP_SPECIAL, &text, &err))
            rc = fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
        else rc = copy_string("the text", text, buf, cap, n);
    }
    free(text);
    session_leave(s);
    return rc;
}

int attnlrp_token_text(attnlrp_session *s, int id, int flags, char *buf, size_t cap, size_t *n) {
    if (flags & ~ATTNLRP_PIECE) return fail(ATTNLRP_ERR_ARGUMENT, "flags %d: unknown bits (0 or ATTNLRP_PIECE)", flags);
    int rc = session_enter(s);
    if (rc) return rc;
    if (!(rc = need_tokenizer(s, "id"))) {
        int vocab = lrp_tokenizer_vocab_size(s->ss.tok);
        if (id < 0 || id >= vocab) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "id %d: out of range (0..%d)", id, vocab - 1);
        } else if (flags & ATTNLRP_PIECE) {
            const char *piece = lrp_tokenizer_piece(s->ss.tok, id);
            rc = copy_string("the piece", piece ? piece : "", buf, cap, n);
        } else {
            char text[1024];
            lrp_tokenizer_token_text(s->ss.tok, id, text, sizeof text);
            rc = copy_string("the text", text, buf, cap, n);
        }
    }
    session_leave(s);
    return rc;
}

int attnlrp_token_string(attnlrp_session *s, int id, char *buf, size_t cap, size_t *n) {
    int rc = session_enter_model(s);
    if (rc) return rc;
    int n_out = lrp_model_n_outputs(s->ss.m), vocab = s->ss.m->cfg.vocab_size;
    int limit = s->ss.m->cfg.task == LRP_TASK_CLASSIFIER ? n_out : vocab;
    if (id < 0 || id >= limit) {
        rc = fail(ATTNLRP_ERR_ARGUMENT, "id %d: out of range (0..%d)", id, limit - 1);
    } else {
        char *str = lrp_output_string(&s->ss.m->cfg, s->ss.tok, id);
        rc = str ? copy_string("the string", str, buf, cap, n) : fail(ATTNLRP_ERR_NOMEM, "out of memory");
        free(str);
    }
    session_leave(s);
    return rc;
}

// ---- options -----------------------------------------------------------------------------------------

int attnlrp_options_init(attnlrp_options *o, size_t size) {
    if (!o) return fail(ATTNLRP_ERR_NULL, "options: NULL");
    if (size != sizeof *o && size != OPTIONS_SIZE_0_1)
        return fail(ATTNLRP_ERR_ARGUMENT, "size %zu: expected %zu (sizeof(attnlrp_options) of attnlrp.h %s)", size,
                    sizeof *o, ATTNLRP_VERSION);
    memset(o, 0, size);  // the fields of 0.1 (below) all lie within its size
    o->size = size;
    o->target = o->contrast = o->position = -1;
    o->latent_start[0] = o->latent_start[1] = o->latent_start[2] = -1;
    o->latent_layer = o->latent_expert = -1;
    o->noise = o->atman_factor = o->atman_threshold = -1;
    return ATTNLRP_OK;
}

int attnlrp_generate_options_init(attnlrp_generate_options *o, size_t size) {
    if (!o) return fail(ATTNLRP_ERR_NULL, "options: NULL");
    if (size != sizeof *o && size != GENERATE_OPTIONS_SIZE_0_1)
        return fail(ATTNLRP_ERR_ARGUMENT, "size %zu: expected %zu (sizeof(attnlrp_generate_options) of attnlrp.h %s)",
                    size, sizeof *o, ATTNLRP_VERSION);
    memset(o, 0, size);
    o->size = size;
    o->max_new = 32;
    o->top_p = 1;
    return ATTNLRP_OK;
}

// Public interventions -> the library's; *out malloc'ed (NULL when n is 0).
static int interventions(const char *param, const attnlrp_intervention *v, size_t n, lrp_intervention **out) {
    *out = NULL;
    if (n == 0) return ATTNLRP_OK;
    if (!v) return fail(ATTNLRP_ERR_NULL, "options.%s: NULL with n_%s %zu", param, param, n);
    if (n > 4096) return fail(ATTNLRP_ERR_ARGUMENT, "options.n_%s %zu: at most 4096", param, n);
    if (!(*out = malloc(n * sizeof **out))) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind < ATTNLRP_SET_VALUE || v[i].kind > ATTNLRP_SET_ADD) {
            free(*out);
            *out = NULL;
            return fail(ATTNLRP_ERR_ARGUMENT, "options.%s[%zu].kind %d: expected ATTNLRP_SET_VALUE, _SCALE or _ADD",
                        param, i, v[i].kind);
        }
        if (!isfinite(v[i].value)) {
            free(*out);
            *out = NULL;
            return fail(ATTNLRP_ERR_ARGUMENT, "options.%s[%zu].value: not a finite number", param, i);
        }
        (*out)[i] = (lrp_intervention){v[i].layer, v[i].neuron, (lrp_intervention_kind)v[i].kind, v[i].value};
    }
    return ATTNLRP_OK;
}

static int check_int_param(const char *name, int v) {
    return v < -1 ? fail(ATTNLRP_ERR_ARGUMENT, "options.%s %d: must be -1 (none) or an index", name, v) : ATTNLRP_OK;
}

// ---- explaining --------------------------------------------------------------------------------------

// What one explain call owns until it returns (or hands to its result).
typedef struct request {
    lrp_text_inputs ti;
    int *dec, n_dec, *answer, n_answer;
    lrp_intervention *iv, *hiv;
    lrp_image img;
    unsigned char *mask;
    char *chat_prompt;
    const char *chat_family;
} request;

static void request_free(request *q) {
    lrp_text_inputs_free(&q->ti);
    free(q->dec);
    free(q->answer);
    free(q->iv);
    free(q->hiv);
    free(q->mask);
    free(q->chat_prompt);
    lrp_image_free(&q->img);
}

static void result_free(attnlrp_result *r) {
    if (!r) return;
    lrp_describe_free(&r->ctx, &r->e);
    for (int i = 0; i < r->n_labels; i++) free(r->labels[i]);
    free(r->labels);
    free(r->chat_prompt);
    free(r->word_start);
    free(r->decoder_word_start);
    lrp_image_free(&r->img);
    lrp_explanation_free(&r->e);
    r->magic = 0;
    free(r);
}

void attnlrp_result_free(attnlrp_result *r) {
    if (r && r->magic == RESULT_MAGIC) result_free(r);
}

// The inputs beside the text: the decoder's prefix, token types and the attention mask (one per given
// input token), and the answer's tokens (appended, but the last, to the input or the decoder's input), in
// this order.
static int build_inputs(const attnlrp_session *s, const attnlrp_options *o, request *q) {
    const lrp_session *ss = &s->ss;
    const lrp_config *cfg = &ss->m->cfg;
    lrp_err err;
    int rc;
    if (o->n_decoder && !o->decoder_ids)
        return fail(ATTNLRP_ERR_NULL, "options.decoder_ids: NULL with n_decoder %zu", o->n_decoder);
    if (o->n_decoder && o->decoder_text)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.decoder_text: give decoder_ids or decoder_text, not both");
    if ((o->n_decoder || o->decoder_text) && cfg->task != LRP_TASK_SEQ2SEQ_LM)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.%s: %s is not an encoder-decoder (no decoder input)",
                    o->decoder_text ? "decoder_text" : "decoder_ids", cfg->model_type);
    if (cfg->task == LRP_TASK_SEQ2SEQ_LM) {  // decoder_start_token_id, then the prefix
        int *prefix = NULL, n_prefix = 0;
        if (o->decoder_text) {
            if ((rc = need_tokenizer(s, "options.decoder_text"))) return rc;
            if (lrp_tokenizer_encode(ss->tok, o->decoder_text, strlen(o->decoder_text), 0, &prefix, &n_prefix, &err))
                return fail(ATTNLRP_ERR_ARGUMENT, "options.decoder_text: %s", err.msg);
        } else if (o->n_decoder) {
            if (o->n_decoder > INT_MAX / 2) return fail(ATTNLRP_ERR_ARGUMENT, "options.n_decoder %zu: too many", o->n_decoder);
            if (!(prefix = malloc(o->n_decoder * sizeof(int)))) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
            memcpy(prefix, o->decoder_ids, o->n_decoder * sizeof(int));
            n_prefix = (int)o->n_decoder;
        }
        if (!(q->dec = malloc(((size_t)n_prefix + 1) * sizeof(int)))) {
            free(prefix);
            return fail(ATTNLRP_ERR_NOMEM, "out of memory");
        }
        q->dec[0] = cfg->decoder_start_token_id;
        if (n_prefix) memcpy(q->dec + 1, prefix, (size_t)n_prefix * sizeof(int));
        q->n_dec = n_prefix + 1;
        free(prefix);
    }
    if (o->token_types) {
        if (!q->ti.ids) return fail(ATTNLRP_ERR_ARGUMENT, "options.token_types: only with text or token ids");
        if (o->n_token_types != (size_t)q->ti.T)
            return fail(ATTNLRP_ERR_ARGUMENT, "options.n_token_types %zu: expected %d (one per input token)",
                        o->n_token_types, q->ti.T);
        int *types = malloc((size_t)q->ti.T * sizeof(int));  // replaces the tokenizer's (answers extend them)
        if (!types) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
        memcpy(types, o->token_types, (size_t)q->ti.T * sizeof(int));
        free(q->ti.token_types);
        q->ti.token_types = types;
    } else if (o->n_token_types) {
        return fail(ATTNLRP_ERR_NULL, "options.token_types: NULL with n_token_types %zu", o->n_token_types);
    }
    if (o->attention_mask) {
        if (!q->ti.ids) return fail(ATTNLRP_ERR_ARGUMENT, "options.attention_mask: only with text or token ids");
        if (o->n_attention_mask != (size_t)q->ti.T)
            return fail(ATTNLRP_ERR_ARGUMENT, "options.n_attention_mask %zu: expected %d (one per input token)",
                        o->n_attention_mask, q->ti.T);
        if (!(q->mask = malloc((size_t)q->ti.T))) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
        for (int t = 0; t < q->ti.T; t++)  // 2 stands for any other value: the check names it
            q->mask[t] = (unsigned char)(o->attention_mask[t] == 0 || o->attention_mask[t] == 1 ? o->attention_mask[t] : 2);
    } else if (o->n_attention_mask) {
        return fail(ATTNLRP_ERR_NULL, "options.attention_mask: NULL with n_attention_mask %zu", o->n_attention_mask);
    }
    // The answer: its tokens but the last join the input (encoder-decoders: the decoder's).
    if (o->n_answer > 0 || o->answer_text) {
        if (o->answer_text) {
            if ((rc = need_tokenizer(s, "options.answer_text"))) return rc;
            if (lrp_tokenizer_encode(ss->tok, o->answer_text, strlen(o->answer_text), 0, &q->answer, &q->n_answer, &err))
                return fail(ATTNLRP_ERR_ARGUMENT, "options.answer_text: %s", err.msg);
            if (q->n_answer == 0) return fail(ATTNLRP_ERR_ARGUMENT, "options.answer_text \"%s\": no tokens", o->answer_text);
        } else {
            if (!o->answer_ids) return fail(ATTNLRP_ERR_NULL, "options.answer_ids: NULL with n_answer %zu", o->n_answer);
            if (o->n_answer > INT_MAX / 2) return fail(ATTNLRP_ERR_ARGUMENT, "options.n_answer %zu: too many", o->n_answer);
            if (!(q->answer = malloc(o->n_answer * sizeof(int)))) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
            memcpy(q->answer, o->answer_ids, o->n_answer * sizeof(int));
            q->n_answer = (int)o->n_answer;
        }
        if (lrp_check_ids(ss->m, q->answer, q->n_answer, &err))  // "ids: id 9 at index 1 is out of range ..."
            return fail(ATTNLRP_ERR_ARGUMENT, "answer%s", err.msg + 3);
        if (!q->ti.ids) return fail(ATTNLRP_ERR_ARGUMENT, "answer: only with text or token ids (not an image)");
        if (q->mask) return fail(ATTNLRP_ERR_ARGUMENT, "options.attention_mask: cannot be combined with an answer");
        if (lrp_text_append_answer(cfg, &q->ti, &q->dec, &q->n_dec, q->answer, q->n_answer, &err))
            return fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
    }
    return ATTNLRP_OK;
}

// The options' names -> the library's explain options; text inputs (ti->ids) fix the default position.
static int build_options(const attnlrp_session *s, const attnlrp_options *o, request *q, lrp_explain_opts *eo) {
    const lrp_session *ss = &s->ss;
    const lrp_config *cfg = &ss->m->cfg;
    lrp_err err;
    int rc;
    lrp_explain_opts_default(eo);
    int method = LRP_METHOD_ATTNLRP;
    if (o->method && lrp_method_lookup("options.method", o->method, 0, &method, &err))
        return fail(ATTNLRP_ERR_ARGUMENT, "%s", err.msg);
    eo->method = (lrp_method)method;
    if ((rc = check_int_param("target", o->target)) || (rc = check_int_param("contrast", o->contrast)) ||
        (rc = check_int_param("position", o->position)) || (rc = check_int_param("latent_layer", o->latent_layer)) ||
        (rc = check_int_param("latent_expert", o->latent_expert)))
        return rc;
    if (o->target >= 0 && o->target_text)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.target_text: give target or target_text, not both");
    if (o->contrast >= 0 && o->contrast_text)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.contrast_text: give contrast or contrast_text, not both");
    if (o->n_answer && o->answer_text)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.answer_text: give answer_ids or answer_text, not both");
    if (o->aggregate != ATTNLRP_AGGREGATE_TOKEN && o->aggregate != ATTNLRP_AGGREGATE_WORD)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.aggregate %d: expected ATTNLRP_AGGREGATE_TOKEN or _WORD", o->aggregate);
    if (o->normalize < ATTNLRP_NORMALIZE_NONE || o->normalize > ATTNLRP_NORMALIZE_SUM)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.normalize %d: expected ATTNLRP_NORMALIZE_NONE, _MAX or _SUM", o->normalize);
    eo->target = o->target;
    eo->contrast = o->contrast;
    eo->position = o->position;
    if (o->target_text && lrp_session_target(ss, "target_text", o->target_text, &eo->target, &err))
        return fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
    if (o->contrast_text && lrp_session_target(ss, "contrast_text", o->contrast_text, &eo->contrast, &err))
        return fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
    eo->score = q->answer ? LRP_SCORE_LOGPROB : LRP_SCORE_LOGIT;
    if (o->score && (eo->score = lrp_score_lookup(o->score)) < 0)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.score \"%s\": expected logit, logprob or prob", o->score);
    memcpy(eo->latent_start, o->latent_start, sizeof eo->latent_start);
    eo->latent_layer = o->latent_layer;
    eo->latent_per_position = o->latent_per_position;
    eo->latent_expert = o->latent_expert;
    eo->layers = o->layers;
    eo->heads = o->heads;
    eo->neurons = o->neurons;
    if ((rc = interventions("set", o->set, o->n_set, &q->iv)) ||
        (rc = interventions("set_head", o->set_head, o->n_set_head, &q->hiv)))
        return rc;
    eo->iv = q->iv;
    eo->n_iv = (int)o->n_set;
    eo->head_iv = q->hiv;
    eo->n_head_iv = (int)o->n_set_head;
    if (lrp_check_interventions(ss->m, q->iv, eo->n_iv, &err) ||
        lrp_check_head_interventions(ss->m, q->hiv, eo->n_head_iv, &err))
        return fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
    if (o->steps < 0 || o->samples < 0)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.%s %d: must not be negative", o->steps < 0 ? "steps" : "samples",
                    o->steps < 0 ? o->steps : o->samples);
    eo->steps = o->steps;
    eo->samples = o->samples;
    eo->noise = o->noise;
    eo->seed = o->seed;
    eo->atman_factor = o->atman_factor;
    eo->atman_threshold = o->atman_threshold;
    eo->max_memory = o->max_memory;
    if (o->quadrature && (eo->quadrature = lrp_quadrature_lookup(o->quadrature)) < 0)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.quadrature \"%s\": expected midpoint or gauss-legendre", o->quadrature);
    if (o->softmax_rule && (eo->softmax_rule = lrp_softmax_rule_lookup(o->softmax_rule)) < 0)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.softmax_rule \"%s\": expected exact, identity or distribute-bias",
                    o->softmax_rule);
    eo->gamma_conv = o->gamma_conv;
    eo->gamma_lin = o->gamma_lin;
    eo->answer = q->answer;
    eo->n_answer = q->n_answer;
    if (eo->position < 0 && q->ti.ids &&
        lrp_default_position(cfg, ss->tok, q->ti.ids, q->ti.T, &eo->position, &err))
        return fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
    return ATTNLRP_OK;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

// The result of e: its display strings, the views asked for, and copies of what they point into (the
// model's labels); what the request owns for the result (the chat prompt, the image) moves into it.
static int make_result(const attnlrp_session *s, const attnlrp_options *o, request *q, lrp_explanation *e,
                       attnlrp_result **out) {
    lrp_err err;
    attnlrp_result *r = calloc(1, sizeof *r);
    if (!r) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
    r->magic = RESULT_MAGIC;
    r->e = *e;
    memset(e, 0, sizeof *e);  // owned by r now
    r->img = q->img;
    memset(&q->img, 0, sizeof q->img);
    if (lrp_describe_explanation(&s->ss, &r->e, &r->ctx, &err)) {
        result_free(r);
        return fail_lib(ATTNLRP_ERR_NOMEM, &err);
    }
    const lrp_config *cfg = &s->ss.m->cfg;
    snprintf(r->model_type, sizeof r->model_type, "%s", cfg->model_type);
    r->ctx.family = r->model_type;
    r->ctx.labels = NULL;
    if (cfg->task == LRP_TASK_CLASSIFIER && cfg->labels && cfg->n_labels > 0) {
        if (!(r->labels = calloc((size_t)cfg->n_labels, sizeof *r->labels))) goto oom;
        r->n_labels = cfg->n_labels;
        for (int i = 0; i < cfg->n_labels; i++)
            if (cfg->labels[i] && !(r->labels[i] = dup_or_null(cfg->labels[i]))) goto oom;
        r->ctx.labels = r->labels;
    }
    r->ctx.all_logits = o->all_logits;
    r->ctx.aggregate = o->aggregate;
    r->ctx.normalize = o->normalize;
    if (o->aggregate == ATTNLRP_AGGREGATE_WORD && r->e.ids) {
        const lrp_explanation *x = &r->e;
        int n_dec = x->decoder_ids ? x->decoder_T : 0;
        if (!(r->word_start = malloc((size_t)x->T + 1)) || !(r->decoder_word_start = malloc((size_t)n_dec + 1))) goto oom;
        lrp_tokenizer_word_starts(s->ss.tok, x->ids, x->T, r->word_start);
        if (n_dec) lrp_tokenizer_word_starts(s->ss.tok, x->decoder_ids, n_dec, r->decoder_word_start);
        r->ctx.word_start = r->word_start;
        r->ctx.decoder_word_start = n_dec ? r->decoder_word_start : NULL;
    }
    r->chat_prompt = q->chat_prompt;
    q->chat_prompt = NULL;
    r->ctx.chat_prompt = r->chat_prompt;
    r->ctx.chat_family = q->chat_family;  // a static string (inputs/chat.h)
    *out = r;
    return ATTNLRP_OK;
oom:
    result_free(r);
    return fail(ATTNLRP_ERR_NOMEM, "out of memory");
}

static int explain_any(attnlrp_session *s, const char *text, const int *ids, size_t n_ids, const char *image,
                       const attnlrp_options *uo, attnlrp_result **out) {
    if (!out) return fail(ATTNLRP_ERR_NULL, "out: NULL (the result is written there)");
    *out = NULL;
    attnlrp_options o;  // the caller's options over the defaults (a 0.1 caller's struct is shorter)
    attnlrp_options_init(&o, sizeof o);
    if (uo) {
        if (uo->size != sizeof *uo && uo->size != OPTIONS_SIZE_0_1)
            return fail(ATTNLRP_ERR_ARGUMENT, "options.size %zu: expected %zu (sizeof(attnlrp_options) of attnlrp.h "
                        "%s; call attnlrp_options_init)", uo->size, sizeof *uo, ATTNLRP_VERSION);
        memcpy(&o, uo, uo->size);
        o.size = sizeof o;
    }
    int rc = session_enter_model(s);
    if (rc) return rc;
    const lrp_session *ss = &s->ss;
    const lrp_config *cfg = &ss->m->cfg;
    request q = {0};
    lrp_explanation e = {0};
    lrp_err err;
    lrp_inputs in = {0};
    if ((o.aggregate == ATTNLRP_AGGREGATE_WORD || o.chat || o.decoder_text) && !image &&
        (rc = need_tokenizer(s, o.chat ? "options.chat" : o.decoder_text ? "options.decoder_text" : "options.aggregate")))
        goto done;
    if (image) {
        if (cfg->image_size <= 0) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "image: %s is a text model (give text or token ids)", ss->model_path);
            goto done;
        }
        if (o.aggregate == ATTNLRP_AGGREGATE_WORD || o.chat) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "options.%s: an image has no words", o.chat ? "chat" : "aggregate");
            goto done;
        }
        char pre[4200];
        snprintf(pre, sizeof pre, "%s/preprocessor_config.json", ss->model_path);
        lrp_image_spec spec = {cfg->num_channels, cfg->image_size, cfg->image_size};
        if (lrp_image_load(image, &spec, access(pre, F_OK) == 0 ? pre : NULL, &q.img, &err)) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "image %s", err.msg);
            goto done;
        }
        in = (lrp_inputs){.pixels = q.img.x, .channels = q.img.channels, .height = q.img.height, .width = q.img.width};
    } else if (text) {
        if ((rc = encode(s, text, strlen(text), o.text_pair, o.no_special, o.chat, &q.ti, &q.chat_prompt, &q.chat_family)))
            goto done;
    } else {
        if (o.text_pair || o.chat) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "options.%s: only with text (token ids are used as they are)",
                      o.chat ? "chat" : "text_pair");
            goto done;
        }
        if (n_ids == 0 || n_ids > INT_MAX / 2) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "n_ids %zu: expected 1 or more token ids", n_ids);
            goto done;
        }
        if (!(q.ti.ids = malloc(n_ids * sizeof(int)))) {
            rc = fail(ATTNLRP_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(q.ti.ids, ids, n_ids * sizeof(int));
        q.ti.T = (int)n_ids;
    }
    if ((rc = build_inputs(s, &o, &q))) goto done;
    if (!image)
        in = (lrp_inputs){.ids = q.ti.ids, .T = q.ti.T, .token_types = q.ti.token_types,
                          .attention_mask = q.mask};
    in.decoder_ids = q.dec;
    in.decoder_T = q.n_dec;
    // Inputs first: bad token types are reported before anything about targets or positions.
    if (lrp_check_inputs(ss->m, &in, &err)) {
        rc = fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
        goto done;
    }
    lrp_explain_opts eo;
    if ((rc = build_options(s, &o, &q, &eo))) goto done;
    if (lrp_explain_inputs(ss->m, &in, &eo, &e, &err)) {
        rc = fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
        goto done;
    }
    rc = make_result(s, &o, &q, &e, out);
done:
    lrp_explanation_free(&e);
    request_free(&q);
    session_leave(s);
    return rc;
}

int attnlrp_explain(attnlrp_session *s, const char *text, const attnlrp_options *o, attnlrp_result **out) {
    if (!text) return fail(ATTNLRP_ERR_NULL, "text: NULL");
    return explain_any(s, text, NULL, 0, NULL, o, out);
}

int attnlrp_explain_ids(attnlrp_session *s, const int *ids, size_t n_ids, const attnlrp_options *o, attnlrp_result **out) {
    if (!ids) return fail(ATTNLRP_ERR_NULL, "ids: NULL");
    return explain_any(s, NULL, ids, n_ids, NULL, o, out);
}

int attnlrp_explain_image(attnlrp_session *s, const char *image_path, const attnlrp_options *o, attnlrp_result **out) {
    if (!image_path) return fail(ATTNLRP_ERR_NULL, "image_path: NULL");
    return explain_any(s, NULL, NULL, 0, image_path, o, out);
}

// ---- reading a result --------------------------------------------------------------------------------

static int result_ok(const attnlrp_result *r) {
    if (!r) return fail(ATTNLRP_ERR_NULL, "result: NULL");
    if (r->magic != RESULT_MAGIC) return fail(ATTNLRP_ERR_ARGUMENT, "result: not an attnlrp result");
    return ATTNLRP_OK;
}

int attnlrp_result_summary(const attnlrp_result *r, attnlrp_summary *m) {
    int rc = result_ok(r);
    if (rc) return rc;
    if (!m) return fail(ATTNLRP_ERR_NULL, "summary: NULL");
    if (m->size != sizeof *m)
        return fail(ATTNLRP_ERR_ARGUMENT, "summary.size %zu: expected %zu (sizeof(attnlrp_summary) of attnlrp.h %s)",
                    m->size, sizeof *m, ATTNLRP_VERSION);
    const lrp_explanation *e = &r->e;
    memset(m, 0, sizeof *m);
    m->size = sizeof *m;
    m->task = (int)e->task;
    m->n_tokens = e->T;
    m->position = e->position;
    m->target = e->target;
    m->target_logit = e->target_logit;
    m->contrast = e->contrast;
    m->contrast_logit = e->contrast_logit;
    m->target_score = e->target_score;
    m->contrast_score = e->contrast_score;
    m->start_value = e->start_value;
    m->seed_value = e->seed_value;
    m->relevance_sum = e->relevance_sum;
    m->has_cls = e->has_cls;
    m->relevance_cls = e->relevance_cls;
    memcpy(m->latent_start, e->latent_start, sizeof m->latent_start);
    m->n_layers = e->n_layers;
    m->n_outputs = e->n_out;
    m->n_top = e->n_top;
    m->n_answer = e->n_answer;
    m->n_decoder_tokens = e->decoder_ids ? e->decoder_T : 0;
    m->forward_passes = e->forward_passes;
    m->backward_passes = e->backward_passes;
    m->nonfinite = e->nonfinite;
    m->seconds_forward = e->seconds_forward;
    m->seconds_backward = e->seconds_backward;
    if (e->relevance_pixels) {
        m->height = e->height;
        m->width = e->width;
        m->patch_size = e->patch_size;
    }
    return ATTNLRP_OK;
}

int attnlrp_result_relevance(const attnlrp_result *r, int kind, float *buf, size_t cap, size_t *n) {
    int rc = result_ok(r);
    if (rc) return rc;
    const lrp_explanation *e = &r->e;
    const float *v = NULL;
    size_t count = 0;
    const char *what = NULL;
    switch (kind) {
    case ATTNLRP_INPUT_TOKENS: v = e->relevance, count = (size_t)e->n_relevance, what = "tokens"; break;
    case ATTNLRP_INPUT_POSITIONS: v = e->relevance_positions, count = (size_t)e->T, what = "positions"; break;
    case ATTNLRP_INPUT_TOKEN_TYPES: v = e->relevance_token_types, count = (size_t)e->T, what = "token types"; break;
    case ATTNLRP_INPUT_PIXELS: v = e->relevance_pixels, count = (size_t)e->height * e->width, what = "pixels"; break;
    case ATTNLRP_INPUT_DECODER_TOKENS: v = e->decoder_relevance, count = (size_t)e->decoder_T, what = "decoder tokens"; break;
    default: return fail(ATTNLRP_ERR_ARGUMENT, "kind %d: unknown input kind (ATTNLRP_INPUT_*)", kind);
    }
    if (n) *n = 0;
    if (!v) return fail(ATTNLRP_ERR_ABSENT, "kind %d: this result has no relevance at %s (the model has no such input)", kind, what);
    return copy_out("the relevance", v, count, sizeof(float), buf, cap, n);
}

// The words view of a result made with options.aggregate word (render/view.h); free with lrp_view_free.
static int result_view(const attnlrp_result *r, int words, lrp_view *v) {
    if (words && (r->ctx.aggregate != ATTNLRP_AGGREGATE_WORD || !r->e.ids))
        return fail(ATTNLRP_ERR_ABSENT, "words: not in this result (needs options.aggregate ATTNLRP_AGGREGATE_WORD)");
    if (lrp_view_build(&r->e, &r->ctx, v)) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
    return ATTNLRP_OK;
}

int attnlrp_result_ids(const attnlrp_result *r, int kind, int *buf, size_t cap, size_t *n) {
    int rc = result_ok(r);
    if (rc) return rc;
    const lrp_explanation *e = &r->e;
    const int *v;
    size_t count;
    int *tmp = NULL;
    lrp_view view;
    if (n) *n = 0;
    switch (kind) {
    case ATTNLRP_IDS_INPUT: v = e->ids, count = (size_t)e->T; break;
    case ATTNLRP_IDS_DECODER: v = e->decoder_ids, count = (size_t)e->decoder_T; break;
    case ATTNLRP_IDS_ANSWER: v = e->answer_ids, count = (size_t)e->n_answer; break;
    case ATTNLRP_IDS_TOKEN_TYPES: v = e->token_types, count = (size_t)e->T; break;
    case ATTNLRP_IDS_ATTENTION_MASK:
        if (!e->attention_mask) return fail(ATTNLRP_ERR_ABSENT, "kind %d: no attention mask (options.attention_mask)", kind);
        if (!(tmp = malloc(((size_t)e->T + 1) * sizeof *tmp))) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
        for (int t = 0; t < e->T; t++) tmp[t] = e->attention_mask[t];
        v = tmp, count = (size_t)e->T;
        break;
    case ATTNLRP_IDS_WORD_STARTS:
        if ((rc = result_view(r, 1, &view))) return rc;
        if (!(tmp = malloc(((size_t)view.src.n + 1) * sizeof *tmp))) {
            lrp_view_free(&view);
            return fail(ATTNLRP_ERR_NOMEM, "out of memory");
        }
        for (int k = 0; k < view.src.n; k++) tmp[k] = view.src.first[k];
        v = tmp, count = (size_t)view.src.n;
        lrp_view_free(&view);
        break;
    default:
        return fail(ATTNLRP_ERR_ARGUMENT, "kind %d: unknown (ATTNLRP_IDS_INPUT, _DECODER, _ANSWER, _TOKEN_TYPES, "
                    "_ATTENTION_MASK or _WORD_STARTS)", kind);
    }
    if (!v) return fail(ATTNLRP_ERR_ABSENT, "kind %d: this result has no such token ids", kind);
    rc = copy_out("the token ids", v, count, sizeof(int), buf, cap, n);
    free(tmp);
    return rc;
}

int attnlrp_result_string(const attnlrp_result *r, int kind, size_t index, char *buf, size_t cap, size_t *n) {
    int rc = result_ok(r);
    if (rc) return rc;
    const lrp_explanation *e = &r->e;
    const lrp_render_ctx *c = &r->ctx;
    char formula[256];
    const char *s = NULL;
    size_t count = 0;
    char *const *list = NULL;
    if (n) *n = 0;
    switch (kind) {
    case ATTNLRP_STR_TOKEN: list = c->tokens, count = (size_t)e->T; break;
    case ATTNLRP_STR_DECODER_TOKEN: list = c->decoder_tokens, count = (size_t)e->decoder_T; break;
    case ATTNLRP_STR_ANSWER_TOKEN: list = c->answer_tokens, count = (size_t)e->n_answer; break;
    case ATTNLRP_STR_TOP: list = c->top_tokens, count = (size_t)e->n_top; break;
    case ATTNLRP_STR_TARGET: s = c->target_token; break;
    case ATTNLRP_STR_CONTRAST: s = c->contrast_token; break;
    case ATTNLRP_STR_METHOD: s = lrp_method_label((int)e->method); break;
    case ATTNLRP_STR_SCORE: s = lrp_score_name(e->score); break;
    case ATTNLRP_STR_EXPLAINED: lrp_explained_formula(e, formula, sizeof formula), s = formula; break;
    case ATTNLRP_STR_MODEL_TYPE: s = r->model_type; break;
    case ATTNLRP_STR_CHAT_PROMPT:
    case ATTNLRP_STR_CHAT_TEMPLATE:
        s = kind == ATTNLRP_STR_CHAT_PROMPT ? c->chat_prompt : c->chat_family;
        if (!s) return fail(ATTNLRP_ERR_ABSENT, "kind %d: not in this result (needs options.chat)", kind);
        break;
    case ATTNLRP_STR_WORD: {
        lrp_view v;
        if ((rc = result_view(r, 1, &v))) return rc;
        if (index >= (size_t)v.src.n) rc = fail(ATTNLRP_ERR_ARGUMENT, "index %zu: out of range (%d words)", index, v.src.n);
        else rc = copy_string("the word", v.src.text[index], buf, cap, n);
        lrp_view_free(&v);
        return rc;
    }
    default: return fail(ATTNLRP_ERR_ARGUMENT, "kind %d: unknown string kind (ATTNLRP_STR_*)", kind);
    }
    if (kind <= ATTNLRP_STR_TOP) {
        if (!list) return fail(ATTNLRP_ERR_ABSENT, "kind %d: no such strings (no tokenizer, or none in this result)", kind);
        if (index >= count) return fail(ATTNLRP_ERR_ARGUMENT, "index %zu: out of range (%zu strings)", index, count);
        s = list[index];
    }
    if (!s) return fail(ATTNLRP_ERR_ABSENT, "kind %d: no such string in this result (no tokenizer, or no contrast)", kind);
    return copy_string("the string", s, buf, cap, n);
}

int attnlrp_result_logits(const attnlrp_result *r, float *buf, size_t cap, size_t *n) {
    int rc = result_ok(r);
    if (rc) return rc;
    if (!r->e.logits) {
        if (n) *n = 0;
        return fail(ATTNLRP_ERR_ABSENT, "logits: this result has none (a neuron start)");
    }
    return copy_out("the logits", r->e.logits, (size_t)r->e.n_out, sizeof(float), buf, cap, n);
}

int attnlrp_result_top(const attnlrp_result *r, attnlrp_top *buf, size_t cap, size_t *n) {
    int rc = result_ok(r);
    if (rc) return rc;
    attnlrp_top top[LRP_TOP_K];
    for (int i = 0; i < r->e.n_top; i++) top[i] = (attnlrp_top){r->e.top[i].id, r->e.top[i].logit, r->e.top[i].prob};
    return copy_out("the top predictions", top, (size_t)r->e.n_top, sizeof *top, buf, cap, n);
}

int attnlrp_result_readout(const attnlrp_result *r, int which, float *buf, size_t cap, size_t *n, size_t *rows,
                           size_t *cols) {
    int rc = result_ok(r);
    if (rc) return rc;
    const lrp_explanation *e = &r->e;
    const float *v = NULL;
    size_t nr = 0, nc = 0;
    const char *asked = "";
    int n_enc = e->n_encoder_layers;
    switch (which) {
    case ATTNLRP_READOUT_LAYERS: v = e->residual_relevance, nr = (size_t)e->n_layers, nc = (size_t)e->T, asked = "options.layers"; break;
    case ATTNLRP_READOUT_LATENT: v = e->latent_relevance, nr = 1, nc = (size_t)e->n_latent, asked = "options.latent_layer"; break;
    case ATTNLRP_READOUT_LATENT_POSITIONS:
        v = e->latent_position_relevance, nr = (size_t)e->n_latent_positions, nc = (size_t)e->n_latent;
        asked = "options.latent_per_position";
        break;
    case ATTNLRP_READOUT_HEADS: v = e->head_relevance, nr = (size_t)e->n_layers, nc = (size_t)e->n_heads, asked = "options.heads"; break;
    case ATTNLRP_READOUT_NEURONS: v = e->neuron_relevance, nr = (size_t)e->n_layers, nc = (size_t)e->neuron_width, asked = "options.neurons"; break;
    case ATTNLRP_READOUT_NEURON_ACTIVATIONS:
        v = e->neuron_activation, nr = (size_t)e->n_layers, nc = (size_t)e->neuron_width, asked = "options.neurons";
        break;
    case ATTNLRP_READOUT_EXPERTS: v = e->expert_relevance, nr = (size_t)e->n_layers, nc = (size_t)e->n_experts, asked = "a mixture-of-experts model"; break;
    case ATTNLRP_READOUT_SHARED_EXPERT:
        v = e->shared_expert_relevance, nr = (size_t)e->n_layers, nc = 1, asked = "a model with a shared expert";
        break;
    case ATTNLRP_READOUT_ANSWER_LOGITS: v = e->answer_logits, nr = 1, nc = (size_t)e->n_answer, asked = "options.answer_ids"; break;
    case ATTNLRP_READOUT_ENCODER_LAYERS:
        v = e->encoder_residual_relevance, nr = (size_t)n_enc, nc = (size_t)e->T, asked = "options.layers (encoder-decoders)";
        break;
    case ATTNLRP_READOUT_DECODER_LAYERS:
        v = e->decoder_residual_relevance, nr = (size_t)(e->n_layers - n_enc), nc = (size_t)e->decoder_T;
        asked = "options.layers (encoder-decoders)";
        break;
    case ATTNLRP_READOUT_WORDS:
    case ATTNLRP_READOUT_NORMALIZED: {
        int words = which == ATTNLRP_READOUT_WORDS;
        if (rows) *rows = 0;
        if (cols) *cols = 0;
        if (n) *n = 0;
        if (!words && r->ctx.normalize == ATTNLRP_NORMALIZE_NONE)
            return fail(ATTNLRP_ERR_ABSENT, "which %d: not in this result (needs options.normalize)", which);
        lrp_view view;
        if ((rc = result_view(r, words, &view))) return rc;
        int from_words = view.words;  // NORMALIZED: the words' values when the view is words
        size_t count = from_words ? (size_t)view.src.n : (size_t)e->n_relevance;
        double scale = words ? 1 : view.scale;
        float *tmp = malloc((count + 1) * sizeof *tmp);
        if (!tmp) rc = fail(ATTNLRP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; tmp && i < count; i++)
            tmp[i] = (float)((from_words ? view.src.relevance[i] : e->relevance[i]) / scale);
        lrp_view_free(&view);
        if (!tmp) return rc;
        if (rows) *rows = 1;
        if (cols) *cols = count;
        rc = copy_out("the readout", tmp, count, sizeof(float), buf, cap, n);
        free(tmp);
        return rc;
    }
    default: return fail(ATTNLRP_ERR_ARGUMENT, "which %d: unknown readout (ATTNLRP_READOUT_*)", which);
    }
    if (rows) *rows = v ? nr : 0;
    if (cols) *cols = v ? nc : 0;
    if (!v) {
        if (n) *n = 0;
        return fail(ATTNLRP_ERR_ABSENT, "which %d: not in this result (needs %s)", which, asked);
    }
    return copy_out("the readout", v, nr * nc, sizeof(float), buf, cap, n);
}

int attnlrp_result_render(const attnlrp_result *r, int format, char *buf, size_t cap, size_t *n) {
    int rc = result_ok(r);
    if (rc) return rc;
    if (format < ATTNLRP_FORMAT_JSON || format > ATTNLRP_FORMAT_TEXT)
        return fail(ATTNLRP_ERR_ARGUMENT, "format %d: expected ATTNLRP_FORMAT_JSON, _HTML or _TEXT", format);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return fail(ATTNLRP_ERR_NOMEM, "out of memory");
    if (format == ATTNLRP_FORMAT_JSON) lrp_render_json(f, &r->e, &r->ctx);
    else if (format == ATTNLRP_FORMAT_HTML) lrp_render_html(f, &r->e, &r->ctx);
    else lrp_render_text(f, &r->e, &r->ctx, 0);
    if (fclose(f) || !text) {
        free(text);
        return fail(ATTNLRP_ERR_NOMEM, "out of memory");
    }
    rc = copy_string("the rendered result", text, buf, cap, n);
    free(text);
    return rc;
}

// ---- generating --------------------------------------------------------------------------------------

typedef struct gen_ctx {
    const lrp_tokenizer *tok;
    attnlrp_token_fn cb;
    void *user;
} gen_ctx;

static int on_token(int id, void *p) {
    gen_ctx *g = p;
    if (!g->cb) return 0;
    char *text = lrp_token_string(g->tok, id);
    int stop = g->cb(id, text ? text : "", g->user);
    free(text);
    return stop;
}

static int generate_any(attnlrp_session *s, const char *text, const int *ids, size_t n_ids,
                        const attnlrp_generate_options *uo, attnlrp_token_fn cb, void *user, int *out, size_t cap,
                        size_t *n) {
    if (!n) return fail(ATTNLRP_ERR_NULL, "n: NULL (the count generated is written there)");
    *n = 0;
    attnlrp_generate_options opts;  // the caller's over the defaults (a 0.1 caller's struct is shorter)
    attnlrp_generate_options_init(&opts, sizeof opts);
    if (uo) {
        if (uo->size != sizeof *uo && uo->size != GENERATE_OPTIONS_SIZE_0_1)
            return fail(ATTNLRP_ERR_ARGUMENT, "options.size %zu: expected %zu (sizeof(attnlrp_generate_options) of "
                        "attnlrp.h %s; call attnlrp_generate_options_init)", uo->size, sizeof *uo, ATTNLRP_VERSION);
        memcpy(&opts, uo, uo->size);
        opts.size = sizeof opts;
    }
    uo = &opts;
    if (uo->max_new < 0) return fail(ATTNLRP_ERR_ARGUMENT, "options.max_new %d: expected 0..%d", uo->max_new, 1 << 20);
    if (!(uo->temperature >= 0) || !(uo->top_p > 0 && uo->top_p <= 1) || uo->top_k < 0)
        return fail(ATTNLRP_ERR_ARGUMENT, "options.%s: out of range (temperature >= 0, 0 < top_p <= 1, top_k >= 0)",
                    !(uo->temperature >= 0) ? "temperature" : uo->top_k < 0 ? "top_k" : "top_p");
    if (out && cap < (size_t)uo->max_new) {
        *n = (size_t)uo->max_new;
        return fail(ATTNLRP_ERR_BUFFER, "out: cap %zu is too small for options.max_new %d tokens", cap, uo->max_new);
    }
    if (!out && cap) return fail(ATTNLRP_ERR_NULL, "out: NULL with cap %zu", cap);
    int rc = session_enter_model(s);
    if (rc) return rc;
    const lrp_config *cfg = &s->ss.m->cfg;
    lrp_text_inputs ti = {0};
    lrp_intervention *iv = NULL, *hiv = NULL;
    // At most 2^20 new tokens; a model with a shorter context says so itself (lrp_generate_heads: "max_new ...").
    if (uo->max_new > 1 << 20 && !(cfg->max_position_embeddings > 0 && cfg->max_position_embeddings <= 1 << 20)) {
        session_leave(s);
        return fail(ATTNLRP_ERR_ARGUMENT, "options.max_new %d: expected 0..%d", uo->max_new, 1 << 20);
    }
    int *gen = NULL, n_gen = 0;
    lrp_err err;
    if (cfg->task != LRP_TASK_CAUSAL_LM && cfg->task != LRP_TASK_SEQ2SEQ_LM) {
        rc = fail(ATTNLRP_ERR_MODEL, "generate: %s is a %s; generation needs a causal language model",
                  s->ss.model_path, lrp_task_name(cfg->task));
        goto done;
    }
    if (text) {
        if ((rc = encode(s, text, strlen(text), NULL, uo->no_special, uo->chat, &ti, NULL, NULL))) goto done;
    } else {
        if (uo->chat) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "options.chat: only with text (token ids are used as they are)");
            goto done;
        }
        if (n_ids == 0 || n_ids > INT_MAX / 2) {
            rc = fail(ATTNLRP_ERR_ARGUMENT, "n_ids %zu: expected 1 or more token ids", n_ids);
            goto done;
        }
        if (!(ti.ids = malloc(n_ids * sizeof(int)))) {
            rc = fail(ATTNLRP_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(ti.ids, ids, n_ids * sizeof(int));
        ti.T = (int)n_ids;
    }
    if ((rc = interventions("set", uo->set, uo->n_set, &iv)) ||
        (rc = interventions("set_head", uo->set_head, uo->n_set_head, &hiv)))
        goto done;
    if (lrp_check_ids(s->ss.m, ti.ids, ti.T, &err) || lrp_check_interventions(s->ss.m, iv, (int)uo->n_set, &err) ||
        lrp_check_head_interventions(s->ss.m, hiv, (int)uo->n_set_head, &err)) {
        rc = fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
        goto done;
    }
    lrp_sampler smp = {(float)uo->temperature, uo->top_k, (float)uo->top_p, uo->seed};
    gen_ctx g = {s->ss.tok, cb, user};
    if (lrp_generate_heads(s->ss.m, ti.ids, ti.T, uo->max_new, &smp, iv, (int)uo->n_set, hiv, (int)uo->n_set_head,
                           !uo->no_eos, on_token, &g, &gen, &n_gen, &err)) {
        rc = fail_lib(ATTNLRP_ERR_ARGUMENT, &err);
        goto done;
    }
    if (out) memcpy(out, gen, (size_t)n_gen * sizeof(int));  // the ids as returned (equal to what cb saw)
    *n = (size_t)n_gen;
done:
    free(gen);
    free(iv);
    free(hiv);
    lrp_text_inputs_free(&ti);
    session_leave(s);
    return rc;
}

int attnlrp_generate(attnlrp_session *s, const char *text, const attnlrp_generate_options *o, attnlrp_token_fn cb,
                     void *user, int *out, size_t cap, size_t *n) {
    if (!text) return fail(ATTNLRP_ERR_NULL, "text: NULL");
    return generate_any(s, text, NULL, 0, o, cb, user, out, cap, n);
}

int attnlrp_generate_ids(attnlrp_session *s, const int *ids, size_t n_ids, const attnlrp_generate_options *o,
                         attnlrp_token_fn cb, void *user, int *out, size_t cap, size_t *n) {
    if (!ids) return fail(ATTNLRP_ERR_NULL, "ids: NULL");
    return generate_any(s, NULL, ids, n_ids, o, cb, user, out, cap, n);
}

// ---- api/handles.h: the attnlrp program's view inside the handles -------------------------------------

const lrp_session *lrp_api_session(const attnlrp_session *s) {
    return s && s->magic == SESSION_MAGIC && !s->closed ? &s->ss : NULL;
}
const lrp_explanation *lrp_api_explanation(const attnlrp_result *r) { return &r->e; }
const lrp_render_ctx *lrp_api_render_ctx(const attnlrp_result *r) { return &r->ctx; }
const lrp_image *lrp_api_image(const attnlrp_result *r) { return &r->img; }
