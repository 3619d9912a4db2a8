// The reader-independent half of lrp_tensor_file: lookup by name, the element count, and closing.
#include "formats/tensor_file.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int compare_tensor_names(const void *a, const void *b) {
    return strcmp(((const lrp_tensor *)a)->name, ((const lrp_tensor *)b)->name);
}

void lrp_tf_sort_by_name(lrp_tensor_file *tf) {
    if (tf->n_tensors > 1) qsort(tf->tensors, (size_t)tf->n_tensors, sizeof *tf->tensors, compare_tensor_names);
}

// Binary search first (the readers sort by name, so this is the path taken), then a linear scan, so
// that a reader which keeps file order still gets correct answers, only slower ones.
const lrp_tensor *lrp_tf_find(const lrp_tensor_file *tf, const char *name) {
    if (!tf || !name || !tf->tensors) return NULL;
    int lo = 0, hi = tf->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, tf->tensors[mid].name);
        if (c == 0) return &tf->tensors[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    for (int i = 0; i < tf->n_tensors; i++) {
        if (strcmp(name, tf->tensors[i].name) == 0) return &tf->tensors[i];
    }
    return NULL;
}

void lrp_tf_close(lrp_tensor_file *tf) {
    if (!tf) return;
    for (int i = 0; i < tf->n_tensors; i++) free(tf->tensors[i].name);
    free(tf->tensors);
    for (int i = 0; i < tf->n_maps; i++) {
        if (tf->maps[i].addr && tf->maps[i].len && !tf->maps[i].borrowed) munmap(tf->maps[i].addr, tf->maps[i].len);
    }
    free(tf->maps);
    if (tf->extra && tf->free_extra) tf->free_extra(tf->extra);
    memset(tf, 0, sizeof *tf);
}
