#include "cli/args.h"
#include "api/handles.h"
#include "explain/memory.h"
#include "explain/methods.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *error_capture;      // cli_error_capture: where errors go instead of stderr
static size_t error_capture_cap;

void cli_error_capture(char *buf, size_t cap) {
    error_capture = buf;
    error_capture_cap = cap;
    if (buf && cap) buf[0] = '\0';
}

int cli_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (error_capture && status != 0) {  // the first error only: it is the one that stopped the command
        if (!error_capture[0]) vsnprintf(error_capture, error_capture_cap, fmt, ap);
        va_end(ap);
        return status;
    }
    fputs("attnlrp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

int arg_int(const char *opt, const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < INT_MIN || v > INT_MAX) {
        cli_error(2, "%s: \"%s\" is not an integer", opt, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int arg_float(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno) {
        cli_error(2, "%s: \"%s\" is not a number", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_int_list(const char *opt, const char *s, int **out, int *n) {
    *out = NULL;
    *n = 0;
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int *v = malloc((size_t)cap * sizeof(int));
    if (!v) return cli_error(2, "out of memory"), -1;
    const char *p = s;
    int k = 0;
    for (;;) {
        while (*p == ' ') p++;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT_MAX) {
            free(v);
            cli_error(2, "%s: \"%s\" is not a comma-separated list of non-negative integers", opt, s);
            return -1;
        }
        v[k++] = (int)x;
        p = end;
        while (*p == ' ') p++;
        if (*p == '\0') break;
        if (*p != ',') {
            free(v);
            cli_error(2, "%s: \"%s\" is not a comma-separated list of non-negative integers", opt, s);
            return -1;
        }
        p++;
    }
    *out = v;
    *n = k;
    return 0;
}

int arg_int_tuple(const char *opt, const char *s, int *out, int k) {
    int *v, n;
    if (arg_int_list(opt, s, &v, &n)) return -1;
    if (n != k) {
        free(v);
        cli_error(2, "%s: expected %d comma-separated integers, got \"%s\"", opt, k, s);
        return -1;
    }
    memcpy(out, v, (size_t)k * sizeof(int));
    free(v);
    return 0;
}

const char *arg_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error(2, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

// ATTNLRP_NONFINITE=warn opened a checkpoint with non-finite weights: one warning line.
static void warn_nonfinite(const lrp_session *s) {
    if (s && s->m && s->m->nonfinite_first)
        cli_error(0, "warning: the checkpoint holds %lld non-finite weights (NaN or inf), the first in tensor \"%s\" "
                  "(element %lld); outputs may be NaN", s->m->nonfinite_count, s->m->nonfinite_first->name,
                  (long long)s->m->nonfinite_first_index);
}

int cli_api_open(attnlrp_session **s, const char *model) {
    // A model path may itself look like a parameter name ("model/..."): only the default model's
    // message names one.
    if (attnlrp_open(model, 0, s))
        return model ? cli_error(1, "%s", attnlrp_last_error()) : cli_lib_error(1, attnlrp_last_error());
    warn_nonfinite(lrp_api_session(*s));
    return 0;
}

int cli_api_error(int status) { return cli_lib_error(status, attnlrp_last_error()); }

void cli_public_method_options(const lrp_explain_opts *mo, attnlrp_options *o) {
    o->steps = mo->steps;
    o->samples = mo->samples;
    o->noise = mo->noise;
    o->seed = mo->seed;
    o->quadrature = lrp_quadrature_name(mo->quadrature);
    o->atman_factor = mo->atman_factor;
    o->atman_threshold = mo->atman_threshold;
    o->softmax_rule = lrp_softmax_rule_name(mo->softmax_rule);
    o->max_memory = mo->max_memory;
}

void cli_public_interventions(const lrp_intervention *iv, int n, attnlrp_intervention *out) {
    for (int i = 0; i < n; i++) out[i] = (attnlrp_intervention){iv[i].layer, iv[i].neuron, (int)iv[i].kind, iv[i].value};
}

int cli_session_open(lrp_session *s, const char *model) {
    lrp_err err;
    // A model path may itself look like a parameter name ("model/..."): only the default model's
    // message names one.
    if (lrp_session_open(s, model, &err)) return model ? cli_error(1, "%s", err.msg) : cli_lib_error(1, err.msg);
    warn_nonfinite(s);
    return 0;
}

int cli_inputs(const lrp_session *s, const char *text, const char *text_pair, const char *ids_arg, lrp_text_inputs *out) {
    memset(out, 0, sizeof *out);
    if (ids_arg) return arg_int_list("--ids", ids_arg, &out->ids, &out->T) ? 2 : 0;
    if (!s->tok)
        return cli_error(1, "%s: the model has no tokenizer (no tokenizer.json beside it): give the input as --ids",
                         s->model_path);
    lrp_err err;
    if (lrp_session_encode(s, text, text_pair, out, &err)) return cli_lib_error(1, err.msg);
    return 0;
}

int cli_parse_set(const char *arg, lrp_intervention *iv) {
    int layer, neuron, used = 0;
    if (sscanf(arg, "%d:%d=%n", &layer, &neuron, &used) != 2 || used == 0)
        return cli_error(2, "--set %s: expected LAYER:NEURON=VALUE, =*FACTOR or =+DELTA", arg);
    const char *v = arg + used;
    iv->layer = layer;
    iv->neuron = neuron;
    iv->kind = LRP_SET_VALUE;
    if (*v == '*') iv->kind = LRP_SET_SCALE, v++;
    else if (*v == '+') iv->kind = LRP_SET_ADD, v++;
    double x;
    char opt[64];
    snprintf(opt, sizeof opt, "--set %d:%d", layer, neuron);
    if (arg_float(opt, v, &x)) return 2;
    if (!isfinite(x) || !isfinite((float)x)) return cli_error(2, "--set %s: the value must be a finite number", arg);
    iv->value = (float)x;
    return 0;
}

int cli_parse_set_head(const char *arg, lrp_intervention *iv) {
    int layer, head, used = 0;
    if (sscanf(arg, "%d:%d=%n", &layer, &head, &used) != 2 || used == 0 || layer < 0 || head < 0)
        return cli_error(2, "--set-head %s: expected LAYER:HEAD=0 (zero the head's output) or LAYER:HEAD=*FACTOR", arg);
    const char *v = arg + used;
    iv->layer = layer;
    iv->neuron = head;
    iv->kind = LRP_SET_VALUE;
    if (*v == '*') iv->kind = LRP_SET_SCALE, v++;
    double x;
    char opt[64];
    snprintf(opt, sizeof opt, "--set-head %d:%d", layer, head);
    if (arg_float(opt, v, &x)) return 2;
    if (!isfinite(x) || !isfinite((float)x)) return cli_error(2, "--set-head %s: the value must be a finite number", arg);
    if (iv->kind == LRP_SET_VALUE && x != 0)
        return cli_error(2, "--set-head %s: a head can be zeroed (=0) or scaled (=*FACTOR) only", arg);
    iv->value = (float)x;
    return 0;
}

int cli_output_open(cli_output *o, const char *path) { return cli_output_open_flag(o, path, NULL); }

int cli_output_open_flag(cli_output *o, const char *path, const char *flag) {
    memset(o, 0, sizeof *o);
    if (!path || strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    if (lrp_atomic_open(&o->file, path) != 0) {
        cli_error(1, "%s %s: cannot create file: %s", flag ? flag : "-o", path, strerror(errno));
        memset(o, 0, sizeof *o);
        return -1;
    }
    o->f = o->file.f;
    o->path = path;
    o->flag = flag;
    return 0;
}

int cli_output_commit(cli_output *o) {
    if (o->f == stdout) {
        fflush(stdout);
        return 0;
    }
    int rc = lrp_atomic_commit(&o->file);
    if (rc) cli_error(1, "%s %s: cannot write file: %s", o->flag ? o->flag : "-o", o->path, strerror(errno));
    memset(o, 0, sizeof *o);
    return rc;
}

void cli_output_abort(cli_output *o) {
    if (o->f && o->f != stdout) lrp_atomic_abort(&o->file);
    memset(o, 0, sizeof *o);
}

int cli_lib_error(int status, const char *msg) {
    static const struct {
        const char *param, *flag;
    } flags[] = {
        {"ids", "--ids"},
        {"position", "--position"},
        {"target", "--target-id"},
        {"contrast", "--contrast"},
        {"latent_start", "--latent-start"},
        {"latent_layer", "--latent-layer"},
        {"latent_expert", "--latent-expert"},
        {"intervention", "--set"},
        {"head_intervention", "--set-head"},
        {"heads", "--heads"},
        {"max_new", "-n"},
        {"token_types", "--token-type-ids"},
        {"attention_mask", "--attention-mask"},
        {"decoder_ids", "--decoder-ids"},
        {"method", "--method"},
        {"methods", "--methods"},
        {"steps", "--steps"},
        {"samples", "--samples"},
        {"layers", "--layers"},
        {"noise", "--noise"},
        {"softmax_rule", "--softmax-rule"},
        {"atman", "--atman"},
        {"text pair", "--text-pair"},
        {"text_pair", "--text-pair"},
        {"text", "TEXT"},
        {"target_text", "--target"},
        {"contrast_text", "--contrast"},
        {"input", "input"},
        {"model", "--model"},
        {"answer", "--answer"},
        {"score", "--score"},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        size_t n = strlen(flags[i].param);
        // A bad value of an argument is a usage error (SPEC section 8: exit status 2), whatever layer finds it;
        // only --model names a file that could not be read.
        if (strncmp(msg, flags[i].param, n) == 0 && (msg[n] == ' ' || msg[n] == ':'))
            return cli_error(status == 1 && strcmp(flags[i].param, "model") ? 2 : status, "%s%s", flags[i].flag,
                             msg + n);
    }
    return cli_error(status, "%s", msg);
}

int arg_max_memory(const char *s, size_t *out) {
    if (lrp_parse_size(s, out)) return cli_error(2, "--max-memory %s: expected a size such as 512M, 2G or 1.5GiB", s);
    return 0;
}

int cli_method_option(int argc, char **argv, int *i, lrp_explain_opts *o, const char *steps_flag, int *used) {
    const char *opt = argv[*i];
    *used = 1;
    if (!strcmp(opt, "--max-memory")) {
        const char *v = arg_value(argc, argv, i);
        if (!v || arg_max_memory(v, &o->max_memory)) return 2;
    } else if (!strcmp(opt, steps_flag) || !strcmp(opt, "--samples")) {
        const char *v = arg_value(argc, argv, i);
        int n;
        if (!v || arg_int(opt, v, &n)) return 2;
        if (n < 1) return cli_error(2, "%s %d: must be at least 1", opt, n);
        if (n > 1000000) return cli_error(2, "%s %d: at most 1000000", opt, n);
        *(!strcmp(opt, "--samples") ? &o->samples : &o->steps) = n;
    } else if (!strcmp(opt, "--noise") || !strcmp(opt, "--atman-factor") || !strcmp(opt, "--atman-threshold")) {
        const char *v = arg_value(argc, argv, i);
        double x;
        if (!v || arg_float(opt, v, &x)) return 2;
        if (!(x >= 0) || !isfinite(x)) return cli_error(2, "%s %s: must be a finite number, not negative", opt, v);
        if (strcmp(opt, "--noise") && x > 1) return cli_error(2, "%s %s: must lie in [0, 1]", opt, v);
        *(!strcmp(opt, "--noise") ? &o->noise : !strcmp(opt, "--atman-factor") ? &o->atman_factor
                                                                              : &o->atman_threshold) = x;
    } else if (!strcmp(opt, "--seed")) {
        const char *v = arg_value(argc, argv, i);
        char *end;
        if (!v) return 2;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno || *v == '-') return cli_error(2, "--seed %s: expected a non-negative integer", v);
        o->seed = x;
    } else if (!strcmp(opt, "--quadrature")) {
        const char *v = arg_value(argc, argv, i);
        if (!v) return 2;
        if ((o->quadrature = lrp_quadrature_lookup(v)) < 0)
            return cli_error(2, "--quadrature %s: expected midpoint or gauss-legendre", v);
    } else if (!strcmp(opt, "--softmax-rule")) {
        const char *v = arg_value(argc, argv, i);
        if (!v) return 2;
        if ((o->softmax_rule = lrp_softmax_rule_lookup(v)) < 0)
            return cli_error(2, "--softmax-rule %s: expected exact, identity or distribute-bias", v);
    } else {
        *used = 0;
    }
    return 0;
}

int cli_prompt_inputs(const lrp_session *s, const char *text, const char *text_pair, const char *ids_arg,
                      int no_special, int chat, lrp_text_inputs *out, char **prompt, const char **family) {
    if (prompt) *prompt = NULL;
    if (family) *family = NULL;
    if (ids_arg && (chat || no_special))
        return cli_error(2, "%s: only with TEXT (--ids are used as they are)", chat ? "--chat" : "--no-special");
    if (chat && text_pair) return cli_error(2, "--chat: cannot be combined with --text-pair");
    if (!chat && !no_special) return cli_inputs(s, text, text_pair, ids_arg, out);
    memset(out, 0, sizeof *out);
    if (!s->tok)
        return cli_error(1, "%s: the model has no tokenizer (no tokenizer.json beside it): give the input as --ids",
                         s->model_path);
    lrp_err err;
    char *rendered = NULL;
    const char *fam = NULL;
    int stage;  // the public API encodes its text the same way (api/session.h)
    if (lrp_session_encode_prompt(s, text, strlen(text), text_pair, no_special, chat, out, &rendered, &fam, &stage, &err))
        return cli_error(1, "%s: %s", chat ? "--chat" : "TEXT", err.msg);
    if (out->T == 0) {
        lrp_text_inputs_free(out);
        free(rendered);
        return cli_error(2, "--no-special: TEXT has no tokens");
    }
    if (prompt) *prompt = rendered;
    else free(rendered);
    if (family) *family = fam;
    return 0;
}

int cli_answer_ids(const lrp_session *s, const char *flag, const char *text, int **ids, int *n) {
    *ids = NULL;
    *n = 0;
    if (!*text) return cli_error(2, "%s: empty text (give the tokens to explain)", flag);
    if (!s->tok)
        return cli_error(1, "%s: the model has no tokenizer (no tokenizer.json beside it)", flag);
    lrp_err err;
    if (lrp_tokenizer_encode(s->tok, text, strlen(text), 0, ids, n, &err)) return cli_error(1, "%s: %s", flag, err.msg);
    if (*n == 0) {
        free(*ids);
        *ids = NULL;
        return cli_error(2, "%s \"%s\": no tokens", flag, text);
    }
    return 0;
}

int cli_rest_as_text(int argc, char **argv, int *i, const char **text, const char *cmd) {
    for ((*i)++; *i < argc; (*i)++) {
        if (*text) return cli_error(2, "%s: more than one TEXT argument (quote the text)", cmd);
        *text = argv[*i];
    }
    return 0;
}

int cli_option_value(int *argc, char ***argv, int *i, const char *cmd, const char *const *opts, const char **value) {
    const char *o = (*argv)[*i];
    int takes = 0;
    for (int k = 0; opts[k] && !takes; k++) takes = !strcmp(o, opts[k]);
    if (!takes) {
        if (cli_split_option(argc, argv, *i)) {  // --flag=value
            --*i;
            return 1;
        }
        return cli_error(2, "%s: unknown %s %s (see attnlrp %s --help)", cmd, o[0] == '-' ? "option" : "argument", o,
                         cmd);
    }
    return (*value = arg_value(*argc, *argv, i)) ? 0 : 2;
}

int cli_split_option(int *argc, char ***argv, int i) {
    // The new argv arrays and names live as long as the process (the command reads argv to its end);
    // they are kept here so that they stay reachable (LeakSanitizer), at most 64 splits per command line.
    static void *kept[128];
    static int n_kept;
    const char *o = (*argv)[i], *eq = strchr(o, '=');
    if (strncmp(o, "--", 2) || !eq || eq == o + 2 || n_kept + 2 > (int)(sizeof kept / sizeof kept[0])) return 0;
    char **v = malloc(((size_t)*argc + 2) * sizeof *v);
    char *name = strndup(o, (size_t)(eq - o));
    if (!v || !name) {
        free(v);
        free(name);
        return 0;
    }
    kept[n_kept++] = v;
    kept[n_kept++] = name;
    memcpy(v, *argv, (size_t)i * sizeof *v);
    v[i] = name;
    v[i + 1] = (char *)eq + 1;
    memcpy(v + i + 2, *argv + i + 1, ((size_t)*argc - i) * sizeof *v);  // the rest and argv[argc] (NULL)
    *argv = v;
    (*argc)++;
    return 1;
}

int cli_empty_text(const char *flag, const char *value) {
    if (value && !*value) return cli_error(2, "%s: empty text (give at least one character)", flag);
    return 0;
}

int cli_color_mode(const char *arg, int *mode) {
    if (!strcmp(arg, "auto")) *mode = -1;
    else if (!strcmp(arg, "never")) *mode = 0;
    else if (!strcmp(arg, "always")) *mode = 1;
    else return cli_error(2, "--color %s: expected auto, always or never", arg);
    return 0;
}

int cli_use_color(int mode, FILE *f) {
    if (mode >= 0) return mode;
    if (f != stdout || !isatty(fileno(f))) return 0;
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc) return 0;  // https://no-color.org: set and not empty
    if (term && !strcmp(term, "dumb")) return 0;
    return 1;
}

int cli_parse_method_among(const char *v, const char *const *names, int *method) {
    char list[200] = "";
    int n = 0;
    while (names[n]) n++;
    for (int k = 0; k < n; k++) {
        const lrp_method_info *mi = lrp_method_find(names[k], 1);
        if (!strcmp(v, names[k]) && mi) {
            *method = mi->id;
            return 0;
        }
        size_t at = strlen(list);
        snprintf(list + at, sizeof list - at, "%s%s", k == 0 ? "" : k == n - 1 ? " or " : ", ", names[k]);
    }
    return cli_error(2, "--method %s: expected %s", v, list);
}

int cli_parse_score(const char *v, int *score) {
    int k = lrp_score_lookup(v);
    if (k < 0) return cli_error(2, "--score %s: expected logit, logprob or prob", v);
    *score = k;
    return 0;
}
