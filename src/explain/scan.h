// Scanning a corpus for the inputs that most activate one MLP neuron (the latent space of SPEC §3: the
// input of a layer's down projection, taps.mlp_act): forward passes only, nothing recorded, and a
// bounded top-K of (window, position, activation). The few windows kept are then explained with the
// neuron as the start scalar (lrp_explain with latent_start).
#ifndef LRP_SCAN_H
#define LRP_SCAN_H

#include "models/model.h"

// Width of the latent neuron space (intermediate_size; MoE: an expert's intermediate).
int lrp_latent_width(const lrp_model *m);

// One forward pass without recording (logits only at the last position) that copies the MLP
// intermediate of `layer` ([T, width], row-major; MoE: of expert `expert`, rows of tokens not routed to
// it zero) into act. Errors name ids, layer or expert.
int lrp_forward_latent(const lrp_model *m, const int *ids, int T, int layer, int expert, float *act, lrp_err *err);

// The largest value of column n of act [rows, width] and its row (ties to the lower row; NaN never wins);
// returns the row, or -1 when every value is NaN.
int lrp_column_max(const float *act, int rows, int width, int n, float *value);

// A hit: a window (index = its record or window number), the position of its largest activation, the
// activation, and the window's ids (owned).
typedef struct lrp_scan_hit {
    long index;
    int position;
    float activation;
    int T;
    int *ids;
} lrp_scan_hit;

// The k best hits seen so far: a min-heap on (activation, then -index), so the worst hit is at the root
// and ties keep the lower index; memory is k windows whatever the corpus size.
typedef struct lrp_scan_top {
    int k, n;
    lrp_scan_hit *h;
} lrp_scan_top;

int lrp_scan_top_init(lrp_scan_top *t, int k, lrp_err *err);
// Offers a hit; ids are copied only when it enters. Returns 0, or -1 when out of memory.
int lrp_scan_top_offer(lrp_scan_top *t, long index, int position, float activation, const int *ids, int T,
                       lrp_err *err);
// Sorts the hits best first (highest activation, ties to the lower index); the heap is spent.
void lrp_scan_top_sort(lrp_scan_top *t);
void lrp_scan_top_free(lrp_scan_top *t);

#endif
