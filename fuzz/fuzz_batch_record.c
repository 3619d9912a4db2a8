// libFuzzer harness: one `attnlrp batch` record (a JSONL line). As batch does for each record: the JSON
// object, its id (lrp_batch_record_id), the explain argument vector its fields make with the command
// line's defaults (record_argv: the first byte picks one of a few default sets), that vector through
// explain's argument checks (cli_explain_check_args: no model is loaded), a field dropped from the
// record's compact text as from explain's output (drop_members), and the output line
// (lrp_batch_format_record). Nothing is explained or written.
#include "fuzz.h"

// record_argv, drop_members and the field table are static in the command file.
#include "cli/cmd_batch.c"

static const char *const defaults[][8] = {
    {NULL},
    {"--method", "cplrp", "--layers", "--target", " dog", NULL},
    {"--ids", "1,2,3", "--answer", " Italian", "--set", "0:1=0", NULL},
    {"--latent-start", "0:3", "--method", "gradient", "--score", "logprob", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    batch_args a;
    memset(&a, 0, sizeof a);
    const char *const *d = defaults[data[0] & 3];
    for (int k = 0; d[k]; k++) {  // flags, each with its value unless it is a K_FLAG
        int f = field_by_flag(d[k]);
        if (f < 0) abort();
        a.def_field[a.n_def] = f;
        a.def_value[a.n_def++] = fields[f].kind == K_FLAG ? NULL : d[++k];
    }
    static const char *const drop[] = {"text", "seconds", "ids"};
    a.drop[0] = drop[0], a.drop[1] = drop[1], a.drop[2] = drop[2];
    a.n_drop = (data[0] >> 2) & 3;
    json_error_t jerr;
    json_t *rec = json_loadb((const char *)data + 1, size - 1, 0, &jerr);
    if (!rec) return 0;
    lrp_err err;
    char *id = json_is_object(rec) ? lrp_batch_record_id(rec, 7, &err) : NULL;
    if (json_is_object(rec) && !id && !err.msg[0]) abort();
    if (id) {
        char msg[512] = "";
        str_vec v = {0};
        int rc = record_argv(&a, rec, &v, msg, sizeof msg, NULL, NULL, NULL);
        if (rc == 1 && !msg[0]) abort();  // a bad record must say why
        if (rc == 0) (void)cli_explain_check_args(v.n, v.v);  // usage errors on stderr (-close_fd_mask=2)
        vec_free(&v);
        char *text = json_dumps(rec, 0);  // one line, ", " and ": " as explain writes
        if (text) {
            if (drop_members(text, a.drop, a.n_drop) != 0) abort();
            char *line = lrp_batch_format_record(id, 7, 3, rc == 0 ? text : NULL, rc ? msg : "");
            free(line);
            free(text);
        }
        free(id);
    }
    json_decref(rec);
    return 0;
}
