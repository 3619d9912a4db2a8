// SHA-256 (FIPS 180-4), streamed: what attnlrp batch writes in its output's first line to tie the output to
// its input file.
#ifndef LRP_CORE_SHA256_H
#define LRP_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct lrp_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    unsigned char block[64];
    size_t n_block;  // bytes waiting in block
} lrp_sha256;

void lrp_sha256_init(lrp_sha256 *s);
void lrp_sha256_update(lrp_sha256 *s, const void *data, size_t n);
// Writes the digest as 64 lowercase hex digits and a NUL into hex[65].
void lrp_sha256_hex(lrp_sha256 *s, char hex[65]);

#endif
