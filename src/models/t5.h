// T5's relative position buckets (models/t5.c), exposed for their unit test.
#ifndef LRP_T5_H
#define LRP_T5_H

// The bucket of relative_position = key position − query position, as transformers' T5Attention.
// _relative_position_bucket computes it: bidirectional (encoder) halves the buckets, the upper half for
// keys after the query; causal (decoder) maps every key after the query to 0 (the mask hides it). Within
// a half, distances below n/2 (n = the buckets of that half) get one bucket each, larger ones
// n/2 + ⌊log(d / (n/2)) / log(max_distance / (n/2)) · (n − n/2)⌋ (in float32, as PyTorch computes
// it), at most n − 1.
int lrp_t5_relative_bucket(int relative_position, int bidirectional, int num_buckets, int max_distance);

#endif
