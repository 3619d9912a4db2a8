// libFuzzer harness: an eval data file (lrp_eval_data_read: lines, CRLF, blank lines, NUL bytes),
// then every line parsed as a record ({"text", "text_pair", "target", "span"} or {"image", "label"}).
// The first byte picks the span field's name, as --span-field does.
#include "fuzz.h"
#include "evaluate/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const fields[] = {NULL, "span", "answer_span", ""};
    const char *span_field = fields[data[0] & 3];
    const char *path = fuzz_write("data.jsonl", data + 1, size - 1);
    lrp_eval_data d;
    lrp_err err;
    if (lrp_eval_data_read(&d, path, &err) != 0) {
        if (!err.msg[0]) abort();
        return 0;
    }
    for (int i = 0; i < d.n; i++) {
        lrp_eval_record r;
        char *line = malloc(d.line_len[i] ? d.line_len[i] : 1);  // exactly the bytes, no NUL after them
        if (!line) break;
        memcpy(line, d.lines[i], d.line_len[i]);
        if (lrp_eval_parse_record(line, d.line_len[i], span_field, &r, &err) == 0) {
            if (r.has_span && !(r.span[0] >= 0 && r.span[0] < r.span[1] && r.span[1] <= r.n_chars)) abort();
            lrp_eval_record_free(&r);
        } else if (!err.msg[0]) {
            abort();
        }
        free(line);
    }
    lrp_eval_data_free(&d);
    return 0;
}
