// libFuzzer harness: a config.json (lrp_config_load: model_type picks the family, whose reader
// reads its fields, then lrp_config_validate), and the same bytes as a preprocessor_config.json.
#include "fuzz.h"
#include "inputs/image.h"
#include "models/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("config.json", data, size);
    lrp_config cfg;
    lrp_err err;
    if (lrp_config_load(&cfg, path, &err) == 0) {
        for (int i = 0; i < cfg.n_labels; i++) (void)lrp_config_label_index(&cfg, cfg.labels[i]);
        lrp_config_free(&cfg);
    } else if (!err.msg[0]) {
        abort();
    }
    lrp_preprocess p;
    if (lrp_preprocess_load(path, &p, &err) != 0 && !err.msg[0]) abort();
    return 0;
}
