#include <math.h>
#include <string.h>

#include "kernels/pool.h"
#include "ops/ops.h"

int lrp_act_fn_parse(const char *name) {
    static const struct {
        const char *name;
        lrp_act_fn fn;
    } names[] = {
        {"silu", LRP_ACT_SILU},      {"swish", LRP_ACT_SILU},           {"gelu", LRP_ACT_GELU},
        {"gelu_new", LRP_ACT_GELU_TANH}, {"gelu_pytorch_tanh", LRP_ACT_GELU_TANH}, {"gelu_fast", LRP_ACT_GELU_TANH},
        {"relu", LRP_ACT_RELU},      {"tanh", LRP_ACT_TANH},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) return (int)names[i].fn;
    return -1;
}

#define GELU_TANH_C 0.7978845608028654  // sqrt(2/pi)

float lrp_act_fn_eval(lrp_act_fn f, float xf) {
    double x = xf;
    switch (f) {
    case LRP_ACT_SILU:
        return (float)(x / (1.0 + exp(-x)));
    case LRP_ACT_GELU:
        return (float)(0.5 * x * (1.0 + erf(x / M_SQRT2)));
    case LRP_ACT_GELU_TANH:
        return (float)(0.5 * x * (1.0 + tanh(GELU_TANH_C * (x + 0.044715 * x * x * x))));
    case LRP_ACT_RELU:
        return xf > 0 ? xf : 0.0f;
    case LRP_ACT_TANH:
        return (float)tanh(x);
    case LRP_ACT_SIGMOID:
        return (float)(1.0 / (1.0 + exp(-x)));
    }
    return 0.0f;
}

float lrp_act_fn_deriv(lrp_act_fn f, float xf) {
    double x = xf;
    switch (f) {
    case LRP_ACT_SILU: {
        double s = 1.0 / (1.0 + exp(-x));
        return (float)(s * (1.0 + x * (1.0 - s)));
    }
    case LRP_ACT_GELU:
        return (float)(0.5 * (1.0 + erf(x / M_SQRT2)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI));
    case LRP_ACT_GELU_TANH: {
        double u = GELU_TANH_C * (x + 0.044715 * x * x * x);
        double t = tanh(u);
        return (float)(0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_TANH_C * (1.0 + 3.0 * 0.044715 * x * x));
    }
    case LRP_ACT_RELU:
        return xf > 0 ? 1.0f : 0.0f;
    case LRP_ACT_TANH: {
        double t = tanh(x);
        return (float)(1.0 - t * t);
    }
    case LRP_ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-x));
        return (float)(s * (1.0 - s));
    }
    }
    return 0.0f;
}

// The elementwise loops run on the pool's threads (kernels/pool.h) in units of UNIT elements; every
// element is computed alike whatever the split.
#define UNIT 4096

typedef struct {
    lrp_act_fn f;
    int identity;
    size_t n;
    const float *x, *y, *gy;
    float *out;  // y (forward) or gx (backward)
} act_job;

static void act_backward_range(void *ctx, int u0, int u1) {
    const act_job *j = ctx;
    size_t i0 = (size_t)u0 * UNIT, i1 = (size_t)u1 * UNIT < j->n ? (size_t)u1 * UNIT : j->n;
    if (j->identity) {
        // Identity rule: R(x) = x·ĝ(x) = R(y).
        for (size_t i = i0; i < i1; i++) j->out[i] += j->gy[i] * (j->y[i] / (j->x[i] + 1e-10f));
    } else {
        for (size_t i = i0; i < i1; i++) j->out[i] += j->gy[i] * lrp_act_fn_deriv(j->f, j->x[i]);
    }
}

static int units_of(size_t n) { return (int)((n + UNIT - 1) / UNIT); }

static void activation_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    size_t N = (size_t)x->rows * x->cols;
    act_job j = {.f = (lrp_act_fn)n->ip[0], .identity = rules->act_identity, .n = N, .x = x->x, .y = n->out->x,
                 .gy = n->out->g, .out = gx};
    lrp_parallel_for(units_of(N), lrp_pool_threads_for(N), 0, act_backward_range, &j);
}

static void act_forward_range(void *ctx, int u0, int u1) {
    const act_job *j = ctx;
    size_t i0 = (size_t)u0 * UNIT, i1 = (size_t)u1 * UNIT < j->n ? (size_t)u1 * UNIT : j->n;
    const float *xs = j->x;
    float *ys = j->out;
    // Float math for the common ones (the double-precision reference would dominate GPT-2's MLPs).
    switch (j->f) {
    case LRP_ACT_SILU:
        for (size_t i = i0; i < i1; i++) ys[i] = xs[i] / (1.0f + expf(-xs[i]));
        break;
    case LRP_ACT_GELU:
        for (size_t i = i0; i < i1; i++) ys[i] = 0.5f * xs[i] * (1.0f + erff(xs[i] * (float)M_SQRT1_2));
        break;
    case LRP_ACT_GELU_TANH:
        for (size_t i = i0; i < i1; i++) {
            float v = xs[i];
            ys[i] = 0.5f * v * (1.0f + tanhf((float)GELU_TANH_C * (v + 0.044715f * v * v * v)));
        }
        break;
    default:
        for (size_t i = i0; i < i1; i++) ys[i] = lrp_act_fn_eval(j->f, xs[i]);
    }
}

lrp_act *op_activation(lrp_graph *g, lrp_act *x, lrp_act_fn f) {
    if (!x) return NULL;
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    if (!y) return NULL;
    size_t N = (size_t)x->rows * x->cols;
    act_job j = {.f = f, .n = N, .x = x->x, .out = y->x};
    lrp_parallel_for(units_of(N), lrp_pool_threads_for(N), 0, act_forward_range, &j);
    lrp_node *n = lrp_graph_record(g, "activation", activation_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->ip[0] = (int)f;
    return y;
}
