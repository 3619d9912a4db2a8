// Memory an explanation needs, checked before it starts: an explanation that does not fit is refused
// with one line naming the estimate and the memory available, instead of the process being killed by the
// kernel (or, under an address-space limit, OpenBLAS retrying its buffer allocation forever).
#ifndef LRP_EXPLAIN_MEMORY_H
#define LRP_EXPLAIN_MEMORY_H

#include <stddef.h>

#include "core/err.h"
#include "models/model.h"

typedef struct lrp_memory_need {
    size_t activations;  // the recorded forward and its gradients, attention probabilities excluded
    size_t attention;    // attention probabilities (and what their backward keeps): heads x T x keys per layer
    size_t total;        // activations + attention
} lrp_memory_need;

// An upper bound on the arena bytes one forward + backward pass over T tokens (encoder-decoders: T source
// and T_dec decoder tokens; image models: T = patches + 1) records: every activation of a layer and its
// gradient, the attention probabilities and the logits rows read (n_rows), from the configuration alone.
// tests/test_resources.c checks it against the arena of every family.
lrp_memory_need lrp_explain_memory_estimate(const lrp_model *m, int T, int T_dec, int n_rows);

// The memory an explanation may use: max_memory when non-zero ("max_memory"), else the least of
// MemAvailable (/proc/meminfo, "MemAvailable") and the address space RLIMIT_AS leaves ("RLIMIT_AS");
// *source names which. SIZE_MAX (source "unlimited") when none is known.
size_t lrp_memory_available(size_t max_memory, int *address_space, const char **source);

// Refuses (-1 with err: "memory: explaining 403 tokens needs about 1.2 GiB (...), more than the 0.5 GiB
// available (MemAvailable)", or "(max_memory)", "(RLIMIT_AS, ulimit -v)") an explanation whose estimate
// does not fit. Under an address-space limit the arena's 32 MiB chunks and OpenBLAS's per-thread buffers
// (128 MiB of address space each, allocated on its first product) count too.
// verb names the work in the message: "explaining", "generating up to", "scanning".
int lrp_check_memory(const lrp_model *m, const char *verb, int T, int T_dec, int n_rows, size_t max_memory,
                     lrp_err *err);

// Called after a pass has run: OpenBLAS's buffers exist from then on (they are in the address space already).
void lrp_memory_blas_ready(void);

// "1.5 GiB", "12.0 MiB", "900 KiB" into buf.
const char *lrp_format_bytes(size_t bytes, char *buf, size_t cap);

// Parses "512M", "2G", "1.5GiB", "100000" (bytes) into *bytes; -1 when it is not a size.
int lrp_parse_size(const char *s, size_t *bytes);

#endif
