// attnlrp batch: explain every record of a JSONL file into a resumable JSONL output (evaluate/batch.h), in
// one process, in --jobs worker processes, or (the attnlrp-mpi build, -DLRP_MPI) on the ranks of an MPI
// job. Each record becomes the argument vector of `attnlrp explain` (cli/explain_json.h), so a record takes
// exactly what explain takes, checked and reported the same way.
//
// Work distribution (cli/pool.h): the first process (rank 0) reads the input, hands records out, explains
// records itself while it waits, and writes every result in input order.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_json.h"
#include "evaluate/batch.h"
#include "cli/pool.h"

static const char batch_usage[] =
    "usage: attnlrp batch --data IN.jsonl -o OUT.jsonl [--model PATH] [--on-error skip|fail] [--jobs N]\n"
    "                     [--shard K/N] [--drop FIELD,...|large] [--progress] [EXPLAIN OPTIONS]\n"
    "       mpirun -np N attnlrp-mpi batch --data IN.jsonl -o OUT.jsonl ...   (the MPI build, make mpi)\n"
    "\n"
    "Explains every record of a JSONL file, one output line per record, resumably: a re-run with the same\n"
    "input and options skips the records already in OUT and repairs a torn last line.\n"
    "\n"
    "  --data IN.jsonl      one JSON object per line with what explain takes: \"text\" (or \"ids\", \"pixels\";\n"
    "                       eval's \"image\" and \"label\" are \"pixels\" and \"target\"),\n"
    "                       \"target\" (text; an integer: a token id) or \"target_id\", \"contrast\", \"position\",\n"
    "                       \"method\", \"score\", \"answer\", \"latent_start\", \"layers\": true, ... (each\n"
    "                       explain option without its dashes, '-' as '_'; lists as JSON arrays); \"id\" (a\n"
    "                       string or an integer; default: the record's index, 0-based over non-blank lines)\n"
    "                       names the record; ids must be unique; other fields are ignored\n"
    "  -o FILE, --output FILE  the output: a header line (input file's sha256, shard, options), then\n"
    "                       {\"id\", \"index\", \"line\", \"explanation\": {explain's JSON}} per record in input\n"
    "                       order ({..., \"error\": MSG} for a bad record with --on-error skip); appended and\n"
    "                       flushed record by record\n"
    "  --model PATH         Hugging Face checkpoint directory or GGUF file (default: the shipped model)\n"
    "  --on-error skip|fail a bad record is reported on stderr with its line and written as an error line\n"
    "                       (skip, default), or stops the run with status 1 (fail; a re-run retries it);\n"
    "                       --on-bad is the same option, as eval spells it\n"
    "  --jobs N             N processes explain records in parallel (default 1); the BLAS threads are divided\n"
    "                       among them; the output is the same as with one\n"
    "  --shard K/N          only the records whose index mod N is K (0 <= K < N), for job arrays;\n"
    "                       attnlrp merge joins the N outputs\n"
    "  --drop FIELDS        leave these top-level fields out of each explanation (comma-separated); \"large\"\n"
    "                       stands for logits, relevance_pixels, residual_relevance,\n"
    "                       encoder_residual_relevance, decoder_residual_relevance, latent_relevance,\n"
    "                       latent_position_relevance, expert_relevance (\"seconds\" makes outputs of two\n"
    "                       runs byte-identical)\n"
    "  --progress           progress with an ETA on stderr even when it is not a terminal\n"
    "  EXPLAIN OPTIONS      defaults for every record, e.g. --method cplrp --layers (see attnlrp explain\n"
    "                       --help; not TEXT, --format, -o); a record's own field replaces the option (and its\n"
    "                       alternatives: \"target_id\" replaces --target, \"ids\" replaces TEXT, ...; an\n"
    "                       \"answer\" also replaces --target, --contrast, --position, a \"latent_start\"\n"
    "                       --target, --contrast, --score)\n"
    "  --help, -h           this help\n";

// ---- the explain options a record may carry: JSON key -> explain flag ----

enum { G_NONE, G_INPUT, G_TARGET, G_CONTRAST, G_ANSWER, G_DECODER };  // alternatives replace each other
enum { K_VALUE, K_FLAG, K_REPEAT };                                   // takes a value; boolean; repeatable

typedef struct {
    const char *key, *flag;
    int kind, group;
} record_field;

static const record_field fields[] = {
    {"ids", "--ids", K_VALUE, G_INPUT},
    {"pixels", "--pixels", K_VALUE, G_INPUT},
    {"image", "--pixels", K_VALUE, G_INPUT},   // eval's image records: {"image": path, "label": class}
    {"text_pair", "--text-pair", K_VALUE, G_NONE},
    {"token_type_ids", "--token-type-ids", K_VALUE, G_NONE},
    {"attention_mask", "--attention-mask", K_VALUE, G_NONE},
    {"decoder_text", "--decoder-text", K_VALUE, G_DECODER},
    {"decoder_ids", "--decoder-ids", K_VALUE, G_DECODER},
    {"method", "--method", K_VALUE, G_NONE},
    {"target", "--target", K_VALUE, G_TARGET},
    {"target_id", "--target-id", K_VALUE, G_TARGET},
    {"label", "--target", K_VALUE, G_TARGET},
    {"position", "--position", K_VALUE, G_NONE},
    {"contrast", "--contrast", K_VALUE, G_CONTRAST},
    {"contrast_id", "--contrast-id", K_VALUE, G_CONTRAST},
    {"score", "--score", K_VALUE, G_NONE},
    {"answer", "--answer", K_VALUE, G_ANSWER},
    {"answer_ids", "--answer-ids", K_VALUE, G_ANSWER},
    {"no_special", "--no-special", K_FLAG, G_NONE},
    {"chat", "--chat", K_FLAG, G_NONE},
    {"latent_start", "--latent-start", K_VALUE, G_NONE},
    {"latent_layer", "--latent-layer", K_VALUE, G_NONE},
    {"latent_expert", "--latent-expert", K_VALUE, G_NONE},
    {"per_position", "--per-position", K_FLAG, G_NONE},
    {"layers", "--layers", K_FLAG, G_NONE},
    {"heads", "--heads", K_FLAG, G_NONE},
    {"all_logits", "--all-logits", K_FLAG, G_NONE},
    {"set", "--set", K_REPEAT, G_NONE},
    {"set_head", "--set-head", K_REPEAT, G_NONE},
    {"gamma", "--gamma", K_VALUE, G_NONE},
    {"aggregate", "--aggregate", K_VALUE, G_NONE},
    {"normalize", "--normalize", K_VALUE, G_NONE},
    {"steps", "--steps", K_VALUE, G_NONE},
    {"quadrature", "--quadrature", K_VALUE, G_NONE},
    {"samples", "--samples", K_VALUE, G_NONE},
    {"noise", "--noise", K_VALUE, G_NONE},
    {"seed", "--seed", K_VALUE, G_NONE},
    {"atman_factor", "--atman-factor", K_VALUE, G_NONE},
    {"atman_threshold", "--atman-threshold", K_VALUE, G_NONE},
    {"softmax_rule", "--softmax-rule", K_VALUE, G_NONE},
    {"text", NULL, K_VALUE, G_INPUT},  // TEXT: the positional argument, last (after "--")
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

static const char *large_fields[] = {"logits", "relevance_pixels", "residual_relevance", "encoder_residual_relevance",
                                     "decoder_residual_relevance", "latent_relevance", "latent_position_relevance",
                                     "expert_relevance"};

#define MAX_DEFAULTS 256
#define MAX_DROP 64

typedef struct {
    const char *data, *out, *model, *shard;
    int on_error_fail, jobs, progress;
    int shard_k, shard_n;
    int def_field[MAX_DEFAULTS];   // the command-line explain options: field index and value (NULL: a flag)
    const char *def_value[MAX_DEFAULTS];
    int n_def;
    const char *drop[MAX_DROP];
    int n_drop;
    char *drop_arg;  // strdup'ed --drop (drop[] points into it)
} batch_args;

static int field_by_flag(const char *flag) {
    for (int i = 0; i < N_FIELDS; i++)
        if (fields[i].flag && !strcmp(fields[i].flag, flag)) return i;
    return -1;
}

static int parse_batch_args(int argc, char **argv, batch_args *a) {
    memset(a, 0, sizeof *a);
    a->jobs = 1;
    a->shard_n = 1;
    const char *drop = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], **str = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(batch_usage, stdout);
            return 1;
        } else if (!strcmp(o, "--data")) str = &a->data;
        else if (!strcmp(o, "-o") || !strcmp(o, "--output")) str = &a->out;
        else if (!strcmp(o, "--model")) str = &a->model;
        else if (!strcmp(o, "--shard")) str = &a->shard;
        else if (!strcmp(o, "--drop")) str = &drop;
        else if (!strcmp(o, "--progress")) a->progress = 1;
        else if (!strcmp(o, "--on-error") || !strcmp(o, "--on-bad")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "fail")) a->on_error_fail = 1;
            else if (!strcmp(v, "skip")) a->on_error_fail = 0;
            else return cli_error(2, "%s %s: expected skip or fail", o, v);
        } else if (!strcmp(o, "--jobs")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v || cli_jobs_parse(o, v, &a->jobs)) return 2;
        } else if (o[0] == '-' && o[1] == '-' && field_by_flag(o) >= 0) {
            int f = field_by_flag(o);
            if (a->n_def == MAX_DEFAULTS) return cli_error(2, "batch: too many explain options");
            a->def_field[a->n_def] = f;
            a->def_value[a->n_def] = NULL;
            if (fields[f].kind != K_FLAG && !(a->def_value[a->n_def] = arg_value(argc, argv, &i))) return 2;
            a->n_def++;
        } else if (o[0] == '-' && o[1] != '\0') {
            if (cli_split_option(&argc, &argv, i)) {  // --flag=value
                i--;
                continue;
            }
            if (!strcmp(o, "--format")) return cli_error(2, "--format: batch writes JSON lines only");
            return cli_error(2, "batch: unknown option %s (see attnlrp batch --help)", o);
        } else {
            return cli_error(2, "batch: unexpected argument \"%s\" (the records carry the text; see attnlrp batch --help)",
                             o);
        }
        if (str && !(*str = arg_value(argc, argv, &i))) return 2;
    }
    if (!a->data) return cli_error(2, "batch: give the records with --data IN.jsonl");
    if (!a->out || !strcmp(a->out, "-"))
        return cli_error(2,
                         "batch: give the output file with -o OUT.jsonl (a file: the run appends to it and resumes)");
    lrp_err err;
    if (a->shard && lrp_shard_parse(a->shard, &a->shard_k, &a->shard_n, &err)) return cli_error(2, "--%s", err.msg);
    if (drop) {
        if (!*drop) return cli_error(2, "--drop: empty list (give field names, or large)");
        if (!(a->drop_arg = strdup(drop))) return cli_error(1, "out of memory");
        for (char *save = NULL, *t = strtok_r(a->drop_arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!strcmp(t, "large")) {
                for (size_t k = 0; k < sizeof large_fields / sizeof large_fields[0] && a->n_drop < MAX_DROP; k++)
                    a->drop[a->n_drop++] = large_fields[k];
            } else if (a->n_drop < MAX_DROP) {
                a->drop[a->n_drop++] = t;
            }
        }
    }
    // The defaults checked as explain checks them, with a stand-in input when none is among them.
    char *v[2 * MAX_DEFAULTS + 8];
    int n = 0, has_input = 0;
    v[n++] = "explain";
    for (int d = 0; d < a->n_def; d++) {
        v[n++] = (char *)fields[a->def_field[d]].flag;
        if (a->def_value[d]) v[n++] = (char *)a->def_value[d];
        has_input |= fields[a->def_field[d]].group == G_INPUT;
    }
    if (!has_input) v[n++] = "--ids", v[n++] = "0";
    v[n++] = "--format", v[n++] = "json";
    v[n] = NULL;
    return cli_explain_check_args(n, v);
}

// The options line of the output's header: the explain defaults and --drop, as a JSON array of strings.
static char *options_json(const batch_args *a) {
    json_t *arr = json_array();
    for (int d = 0; arr && d < a->n_def; d++) {
        json_array_append_new(arr, json_string(fields[a->def_field[d]].flag));
        if (a->def_value[d]) json_array_append_new(arr, json_string(a->def_value[d]));
    }
    for (int k = 0; arr && k < a->n_drop; k++) {
        json_array_append_new(arr, json_string("--drop"));
        json_array_append_new(arr, json_string(a->drop[k]));
    }
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

// ---- one record ----

typedef struct {
    char **v;
    int n, cap;
} str_vec;

static int vec_push(str_vec *s, const char *x) {
    if (s->n + 2 > s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        char **g = realloc(s->v, (size_t)cap * sizeof *g);
        if (!g) return -1;
        s->v = g, s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(x))) return -1;
    s->v[++s->n] = NULL;
    return 0;
}

static void vec_free(str_vec *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

// A JSON scalar as an option value (strings as they are, numbers as written); 0, or -1 for other types.
static int scalar_text(const json_t *x, char *buf, size_t cap, const char **out) {
    if (json_is_string(x)) *out = json_string_value(x);
    else if (json_is_integer(x)) snprintf(buf, cap, "%lld", (long long)json_integer_value(x)), *out = buf;
    else if (json_is_real(x)) snprintf(buf, cap, "%.17g", json_real_value(x)), *out = buf;
    else return -1;
    return 0;
}

// Pushes the flag and value(s) of record field f with JSON value x; 0, or -1 with msg (the record's fault).
// *used: the flag pushed (NULL: none; "--": the text).
static int push_field(str_vec *v, int f, const json_t *x, char *msg, size_t cap, const char **used) {
    const record_field *rf = &fields[f];
    char num[64];
    const char *s;
    *used = rf->flag ? rf->flag : "--";
    if (json_is_null(x)) return 0;   // null: the field unset (and the command-line default with it)
    if (rf->kind == K_FLAG) {
        if (!json_is_boolean(x)) return snprintf(msg, cap, "field \"%s\": expected true or false", rf->key), -1;
        return json_is_true(x) ? vec_push(v, rf->flag) : 0;
    }
    if (rf->kind == K_REPEAT) {
        size_t n = json_is_array(x) ? json_array_size(x) : 1;
        for (size_t k = 0; k < n; k++) {
            const json_t *e = json_is_array(x) ? json_array_get(x, k) : x;
            if (!json_is_string(e))
                return snprintf(msg, cap, "field \"%s\": expected a string or a list of strings", rf->key), -1;
            if (vec_push(v, rf->flag) || vec_push(v, json_string_value(e)))
                return snprintf(msg, cap, "out of memory"), -1;
        }
        return 0;
    }
    const char *flag = rf->flag;
    if (!strcmp(rf->key, "target") && json_is_integer(x)) flag = *used = "--target-id";  // "target": 42 is a token id
    char *joined = NULL;
    if (json_is_array(x)) {   // [1, 2, 3] -> "1,2,3"
        size_t len = 0, n = json_array_size(x);
        for (size_t k = 0; k < n; k++) {
            if (scalar_text(json_array_get(x, k), num, sizeof num, &s))  // (the list so far freed: found by fuzzing)
                return free(joined), snprintf(msg, cap, "field \"%s\": expected a list of numbers", rf->key), -1;
            char *g = realloc(joined, len + strlen(s) + 2);
            if (!g) return free(joined), snprintf(msg, cap, "out of memory"), -1;
            joined = g;
            len += (size_t)sprintf(joined + len, "%s%s", k ? "," : "", s);
        }
        if (!n) return snprintf(msg, cap, "field \"%s\": empty list", rf->key), -1;
        s = joined;
    } else if (scalar_text(x, num, sizeof num, &s)) {
        return snprintf(msg, cap, "field \"%s\": expected a string, a number or a list", rf->key), -1;
    }
    int bad = flag ? vec_push(v, flag) || vec_push(v, s) : vec_push(v, "--") || vec_push(v, s);
    free(joined);
    if (bad) return snprintf(msg, cap, "out of memory"), -1;
    return 0;
}

// Whether a record's field f replaces the command-line option d: the same option, one of its alternatives
// (--target-id for --target, --ids for TEXT, ...), or one it cannot be combined with: an answer explains its
// own tokens (no --target, --contrast, --position), a latent start a neuron (no --target, --contrast, --score).
static int replaces(int f, int d) {
    const record_field *rf = &fields[f], *df = &fields[d];
    if (f == d || (rf->group != G_NONE && rf->group == df->group)) return 1;
    int answer = rf->group == G_ANSWER, latent = !strcmp(rf->key, "latent_start");
    if ((answer || latent) && (df->group == G_TARGET || df->group == G_CONTRAST)) return 1;
    return (answer && !strcmp(df->key, "position")) || (latent && !strcmp(df->key, "score"));
}

typedef struct {
    const batch_args *a;
    attnlrp_session *ss;
} record_ctx;

// The end of the JSON value that starts at s (a string, object, array or scalar; s is valid JSON).
static const char *value_end(const char *s) {
    int depth = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1]) p++;
            if (!*p) return p;
            if (depth == 0) return p + 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0) return p;   // the end of a scalar at the end of its container
            if (--depth == 0) return p + 1;
        } else if (depth == 0 && (*p == ',' || *p == ' ')) {
            return p;
        }
    }
    return s + strlen(s);
}

// Removes the members named in drop from the one-line JSON object in json (explain's output), in place;
// every other byte stays as explain wrote it (numbers keep their digits). -1 when out of memory.
static int drop_members(char *json, const char *const *drop, int n_drop) {
    char *p = strchr(json, '{');
    if (!p) return 0;
    size_t n = strlen(json);
    char *out = malloc(n + 1), *o = out;
    if (!out) return -1;
    *o++ = '{';
    int kept = 0;
    for (p++;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p != '"') break;   // '}' (or the end)
        const char *key = p + 1, *start = p, *v = value_end(p);
        size_t key_len = (size_t)(v - 1 - key);
        while (*v == ' ' || *v == ':') v++;
        const char *end = value_end(v);
        int dropped = 0;
        for (int k = 0; k < n_drop && !dropped; k++)
            dropped = strlen(drop[k]) == key_len && !memcmp(drop[k], key, key_len);
        if (!dropped) {
            if (kept++) *o++ = ',', *o++ = ' ';
            memcpy(o, start, (size_t)(end - start));
            o += end - start;
        }
        p = (char *)end;
    }
    strcpy(o, p);   // "}" and the newline
    strcpy(json + (strchr(json, '{') - json), out);
    free(out);
    return 0;
}

// An explain error about an option a record field gave, in the record's terms: each option flag (or
// "TEXT") the record gave is named as its field, field "key" (at the start: field "key": ...), and explain's
// "explain: " prefix goes. In place, within cap.
static void name_fields(char *msg, size_t cap, const char *const *flag, const char *const *key, int n) {
    char out[1024];
    size_t o = 0;
    const char *p = msg;
    if (!strncmp(p, "explain: ", 9)) p += 9;
    int first = 1;
    while (*p && o + 1 < sizeof out) {
        int hit = -1;
        size_t len = 0;
        if (first || p[-1] == ' ' || p[-1] == '(')   // a flag starts a word
            for (int k = 0; k < n && hit < 0; k++) {
                const char *f = strcmp(flag[k], "--") ? flag[k] : "TEXT";
                len = strlen(f);
                if (!strncmp(p, f, len) && (p[len] == '\0' || strchr(" :=,)", p[len]))) hit = k;
            }
        if (hit >= 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "field \"%s\"%s", key[hit],
                                  first && p[len] != ':' ? ":" : "");
            if (o >= sizeof out) o = sizeof out - 1;
            p += len;
        } else {
            out[o++] = *p++;
        }
        first = 0;
    }
    out[o] = '\0';
    snprintf(msg, cap, "%s", out);
}

// The argument vector of explain for record rec (a JSON object): explain, the defaults no field of the
// record replaces, the record's fields, --format json, -- TEXT. 0, 1 (the record's fault: msg says why)
// or 2 (out of memory). given_flag/given_key (N_FIELDS each, or NULL): the options the record's fields
// gave and those fields' keys, *n_given of them (for name_fields).
static int record_argv(const batch_args *a, const json_t *rec, str_vec *v, char *msg, size_t cap,
                       const char **given_flag, const char **given_key, int *n_given) {
    if (vec_push(v, "explain")) return 2;
    for (int d = 0; d < a->n_def; d++) {
        const record_field *df = &fields[a->def_field[d]];
        int replaced = 0;
        for (int f = 0; f < N_FIELDS && !replaced; f++)
            replaced = json_object_get(rec, fields[f].key) && replaces(f, a->def_field[d]);
        if (replaced) continue;
        if (vec_push(v, df->flag) || (a->def_value[d] && vec_push(v, a->def_value[d]))) return 2;
    }
    if (vec_push(v, "--format") || vec_push(v, "json")) return 2;
    if (n_given) *n_given = 0;
    for (int f = 0; f < N_FIELDS; f++) {
        const json_t *x = json_object_get(rec, fields[f].key);
        const char *used = NULL;
        if (x && push_field(v, f, x, msg, cap, &used)) return 1;
        if (x && used && n_given) given_flag[*n_given] = used, given_key[(*n_given)++] = fields[f].key;
    }
    return 0;
}

// Explains one record: *line receives the output line (malloc'ed). Returns 0 (explained), 1 (a bad record:
// *line is its error line, msg the message) or 2 (nothing can go on: msg says why).
static int explain_record(const record_ctx *c, const char *text, size_t len, long index, long line_no, char **line,
                          char *msg, size_t cap) {
    *line = NULL;
    msg[0] = '\0';
    json_error_t jerr;
    json_t *rec = json_loadb(text, len, 0, &jerr);
    char *id = NULL, *json = NULL;
    size_t json_len = 0;
    str_vec v = {0};
    int rc = 1;
    lrp_err err;
    if (!rec) snprintf(msg, cap, "not JSON: %s (column %d)", jerr.text, jerr.column);
    else if (!json_is_object(rec)) snprintf(msg, cap, "not a JSON object");
    else if (!(id = lrp_batch_record_id(rec, index, &err))) snprintf(msg, cap, "%s", err.msg);
    if (msg[0]) goto out;
    const char *given_flag[N_FIELDS], *given_key[N_FIELDS];   // the options the record's fields gave
    int n_given = 0;
    int arc = record_argv(c->a, rec, &v, msg, cap, given_flag, given_key, &n_given);
    if (arc == 2) goto oom;
    if (arc) goto out;
    FILE *mem = open_memstream(&json, &json_len);
    if (!mem) goto oom;
    cli_error_capture(msg, cap);
    int erc = cli_explain_json(c->ss, v.n, v.v, mem);
    cli_error_capture(NULL, 0);
    if (fclose(mem) && !erc) goto oom;
    if (erc) {
        if (!msg[0]) snprintf(msg, cap, "explain failed (status %d)", erc);
        name_fields(msg, cap, given_flag, given_key, n_given);
        goto out;
    }
    if (c->a->n_drop && drop_members(json, c->a->drop, c->a->n_drop)) goto oom;
    rc = 0;
    goto out;
oom:
    snprintf(msg, cap, "out of memory");
    rc = 2;
out:
    if (rc != 2) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "%ld", index);
        *line = lrp_batch_format_record(id ? id : fallback, index, line_no, rc == 0 ? json : NULL, msg);
        if (!*line) snprintf(msg, cap, "out of memory"), rc = 2;
    }
    free(id);
    free(json);
    vec_free(&v);
    json_decref(rec);
    return rc;
}

// ---- tasks (a record) and results (its output line) between the processes (cli/pool.h) ----

typedef struct {
    int64_t index, line_no;
} task_head;   // followed by the record's text

typedef struct {
    int64_t status;    // explain_record's
    int64_t line_no;
    int64_t line_len;  // then the output line, then the message (NUL-terminated)
} result_head;

// Runs a task (a record) and returns the result (malloc'ed, NULL: out of memory).
static char *run_task(void *work, const char *buf, size_t n, size_t *out_n) {
    const record_ctx *c = work;
    task_head h;
    if (n < sizeof h) return NULL;
    memcpy(&h, buf, sizeof h);
    char msg[1024], *line = NULL;
    int st = explain_record(c, buf + sizeof h, n - sizeof h, (long)h.index, (long)h.line_no, &line, msg, sizeof msg);
    size_t ll = line ? strlen(line) : 0, ml = strlen(msg) + 1;
    result_head r = {st, h.line_no, (int64_t)ll};
    char *m = malloc(sizeof r + ll + ml);
    if (m) {
        memcpy(m, &r, sizeof r);
        if (ll) memcpy(m + sizeof r, line, ll);
        memcpy(m + sizeof r + ll, msg, ml);
        *out_n = sizeof r + ll + ml;
    }
    free(line);
    return m;
}

// ---- rank 0: reading the records, writing the results in input order ----

typedef struct {
    const batch_args *a;
    // input
    FILE *in;
    char *buf;
    size_t cap;
    long next_index, line_no;
    int eof;
    const unsigned char *done;
    long records;      // as lrp_batch_scan_input counted them
    // output
    FILE *out;
    // progress
    long todo, written, bad;
    double t0, t_shown;
    int show, tty;
} run_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void read_error(const run_state *p) {
    if (errno == ESTALE)
        cli_error(1, "--data %s: the file changed during the run (its records differ from the first reading)",
                  p->a->data);
    else cli_error(1, "--data %s: cannot read: %s", p->a->data, strerror(errno));
}

// The next record of the run (in the shard, not done) as a task: 1, 0 at the end, -1 error (printed).
static int next_task(void *ctx, char **task, size_t *n) {
    run_state *p = ctx;
    while (!p->eof) {
        size_t len;
        int r = lrp_batch_next_record(p->in, &p->buf, &p->cap, &len, &p->line_no);
        if (r == 0 && p->next_index != p->records) errno = ESTALE, r = -1;   // fewer records than counted
        if (r <= 0) {
            p->eof = 1;
            if (r < 0) read_error(p);
            return r;
        }
        long i = p->next_index++;
        if (i >= p->records) {   // more records than the first reading found
            errno = ESTALE;
            p->eof = 1;
            read_error(p);
            return -1;
        }
        if (i % p->a->shard_n != p->a->shard_k || p->done[i]) continue;
        task_head h = {i, p->line_no};
        if (!(*task = malloc(sizeof h + len))) return cli_error(1, "out of memory"), -1;
        memcpy(*task, &h, sizeof h);
        memcpy(*task + sizeof h, p->buf, len);
        *n = sizeof h + len;
        return 1;
    }
    return 0;
}

static void progress(run_state *p, int last) {
    double t = now_s();
    if (!p->show || (!last && t - p->t_shown < (p->tty ? 0.5 : 10.0))) return;
    double el = t - p->t0, rate = el > 0 ? (double)p->written / el : 0;
    char eta[32] = "?";
    if (rate > 0) snprintf(eta, sizeof eta, "%.0f s", (double)(p->todo - p->written) / rate);
    fprintf(stderr, "%sbatch: %ld/%ld records, %ld bad, %.1f records/s, %.0f s elapsed, ETA %s%s", p->tty ? "\r" : "",
            p->written, p->todo, p->bad, rate, el, eta, p->tty && !last ? "\x1b[K" : "\n");
    fflush(stderr);
    p->t_shown = t;
}

// A record's result, in input order: reported and written. 0, 1 (a bad record with --on-error fail), 2.
static int take_result(void *ctx, const char *m, size_t n) {
    run_state *p = ctx;
    result_head r;
    if (n < sizeof r) return cli_error(1, "batch: a worker's result could not be read"), 2;
    memcpy(&r, m, sizeof r);
    if ((size_t)r.line_len > n - sizeof r - 1) return cli_error(1, "batch: a worker's result could not be read"), 2;
    const char *line = m + sizeof r, *msg = line + r.line_len;
    int failed = 0;
    if (r.status == 2) {
        cli_error(1, "%s line %ld: %s", p->a->data, (long)r.line_no, msg);
        return 2;
    } else if (r.status == 1) {
        if (p->show && p->tty) fputc('\n', stderr);
        cli_error(1, "%s line %ld: %s", p->a->data, (long)r.line_no, msg);
        p->bad++;
        if (p->a->on_error_fail) failed = 1;
    }
    if (!failed && r.line_len) {
        if (fwrite(line, 1, (size_t)r.line_len, p->out) != (size_t)r.line_len || fflush(p->out)) {
            cli_error(1, "-o %s: cannot write: %s", p->a->out, strerror(errno));
            return 2;
        }
    }
    if (!failed) p->written++;
    progress(p, 0);
    return failed;
}

// ---- the command ----

int cmd_batch(int argc, char **argv) {
    cli_par par;
    cli_par_init(&par);
    batch_args a;
    int rc = parse_batch_args(argc, argv, &a);
    cli_par_quiet_end(&par);
    if (!rc) rc = cli_par_check_jobs(&par, a.jobs);
    if (rc) {
        free(a.drop_arg);
        cli_par_finish();
        return rc == 1 ? 0 : rc;
    }
    lrp_batch_header h = {0};
    attnlrp_session *ss = NULL;
    unsigned char *done = NULL;
    FILE *out = NULL, *in = NULL;
    long n_done = 0;
    int repaired = 0, ok = 1;
    lrp_err err;
    rc = 1;
    if (par.rank == 0) {   // the files: the input's hash and ids, then the output (resumed)
        if (lrp_batch_scan_input(a.data, &h, &err)) {
            cli_error(1, "--data %s", err.msg);
            ok = 0;
        } else if (h.records == 0) {
            cli_error(1, "--data %s: no records (the file is empty)", a.data);
            ok = 0;
        } else if (!(h.options = options_json(&a)) || !(done = calloc((size_t)h.records, 1))) {
            cli_error(1, "out of memory");
            ok = 0;
        } else {
            h.shard_k = a.shard_k;
            h.shard_n = a.shard_n;
            if (lrp_batch_open_output(a.out, &h, done, &n_done, &repaired, &out, &err)) {
                cli_error(1, "-o %s", err.msg);
                ok = 0;
            } else if (!(in = fopen(a.data, "rb"))) {
                cli_error(1, "--data %s: cannot open: %s", a.data, strerror(errno));
                ok = 0;
            }
        }
    }
    if (ok && cli_api_open(&ss, a.model)) ok = 0;
    ok = cli_par_all(&par, ok);   // every rank has its model, and rank 0 its files, or all stop
    if (!ok) goto done;
    record_ctx c = {&a, ss};
    int each = cli_par_divide_threads(&par, a.jobs);
    cli_pool_ops ops = {next_task, run_task, take_result, NULL, &c, -1, "batch", "record"};
    if (par.rank > 0) {
        cli_pool_serve(&ops, &par);
        rc = 0;
        goto done;
    }
    long todo = 0;
    for (long i = a.shard_k; i < h.records; i += a.shard_n) todo += !done[i];
    int tty = isatty(STDERR_FILENO);
    run_state p = {.a = &a, .in = in, .done = done, .records = h.records, .out = out, .todo = todo, .t0 = now_s(),
                   .show = a.progress || tty, .tty = tty};
    p.t_shown = p.t0;
    ops.ctx = &p;
    ops.close_in_worker = fileno(out);
    if (repaired) cli_error(0, "batch: %s: cut off a torn last line (an interrupted run); going on", a.out);
    if (n_done && p.show)
        fprintf(stderr, "batch: %s: %ld records already done, %ld to go\n", a.out, n_done, todo);
    double *cpu = NULL;
    int n_procs = 0;
    int failed = cli_pool_run(&ops, &par, a.jobs, each, &cpu, &n_procs);
    progress(&p, 1);
    if (p.show && cpu) {   // the work of each process: what one core each would take
        fprintf(stderr, "batch: CPU seconds per process:");
        for (int w = 0; w < n_procs; w++) fprintf(stderr, " %.3f", cpu[w]);
        fputc('\n', stderr);
    }
    free(cpu);
    free(p.buf);
    rc = failed ? 1 : 0;
done:
    if (out && fclose(out) && rc == 0) rc = cli_error(1, "-o %s: cannot write: %s", a.out, strerror(errno));
    if (in) fclose(in);
    free(done);
    lrp_batch_header_free(&h);
    attnlrp_session_free(ss);
    free(a.drop_arg);
    cli_par_finish();
    return rc;
}
