// Vocabulary projection of an MLP neuron's output weights (the family supplies the weights through its
// neuron_readout hook; model.h: lrp_neuron_readout).
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "models/registry.h"

int lrp_neuron_projection(const lrp_model *m, int layer, int neuron, int expert, float *scores, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    if (layer < 0 || layer >= c->num_layers)
        return lrp_fail(err, "layer %d out of range (0..%d)", layer, c->num_layers - 1);
    if (c->num_experts > 0 && (expert < 0 || expert >= c->num_experts))
        return expert < 0 ? lrp_fail(err, "expert: %s has %d experts per layer; give one (0..%d)", c->model_type,
                                     c->num_experts, c->num_experts - 1)
                          : lrp_fail(err, "expert %d out of range (0..%d)", expert, c->num_experts - 1);
    if (c->num_experts == 0 && expert >= 0)
        return lrp_fail(err, "expert %d: %s has a dense MLP (no experts)", expert, c->model_type);
    if (!m->family->neuron_readout)
        return lrp_fail(err, "%s: no vocabulary projection of MLP neurons for this family", c->model_type);
    lrp_neuron_readout r;
    memset(&r, 0, sizeof r);
    r.scale = 1.0f;
    if (m->family->neuron_readout(m, layer, expert, &r, err)) return -1;
    int64_t D = r.down.out, W = r.down.in, N = r.unembed.out;
    if (neuron < 0 || neuron >= W) return lrp_fail(err, "neuron %d out of range (0..%lld)", neuron, (long long)W - 1);
    if (r.unembed.in != D || N != lrp_model_n_outputs(m))
        return lrp_fail(err, "%s: the output head's shape does not fit the neuron readout", c->model_type);
    size_t scratch_n = lrp_model_scratch_floats(m);
    if (scratch_n < (size_t)(D + W + N)) scratch_n = (size_t)(D + W + N);
    float *onehot = calloc((size_t)W, sizeof *onehot), *col = malloc((size_t)D * sizeof *col);
    float *vec = malloc((size_t)D * sizeof *vec), *scratch = malloc(scratch_n * sizeof *scratch);
    int rc = -1;
    if (!onehot || !col || !vec || !scratch) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    onehot[neuron] = 1.0f;
    lrp_matmul_forward(col, onehot, &r.down, NULL, 1, scratch, scratch_n);  // column `neuron` of down
    for (int i = 0; i < 2; i++) {
        if (!r.norm[i].t) continue;
        lrp_weight_vector(&r.norm[i], vec);
        for (int64_t d = 0; d < D; d++) col[d] *= r.norm_offset[i] + vec[d];
    }
    lrp_matmul_forward(scores, col, &r.unembed, NULL, 1, scratch, scratch_n);
    for (int64_t v = 0; v < N; v++) scores[v] *= r.scale;
    rc = 0;
done:
    free(onehot);
    free(col);
    free(vec);
    free(scratch);
    return rc;
}
