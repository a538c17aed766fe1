// sha256.h — SHA-256 (FIPS 180-4) for provenance hashes of input files.
#ifndef MEMPROF_SHA256_H
#define MEMPROF_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"

typedef struct sha256_context {
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_used;
} sha256_context;

void sha256_init(sha256_context *ctx);
void sha256_update(sha256_context *ctx, const void *data, size_t length);
// Writes 64 lower-case hex digits and a NUL.
void sha256_final_hex(char out_hex[65], sha256_context *ctx);
void sha256_hex(char out_hex[65], const void *data, size_t length);
int sha256_file_hex(char out_hex[65], const char *path, memprof_error *err);

#endif
