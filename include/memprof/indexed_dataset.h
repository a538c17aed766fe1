// indexed_dataset.h — Megatron MMapIndexedDataset (.idx + .bin), as gpt-neox writes it.
//
// .idx (little-endian): magic "MMIDIDX\0\0" (9 B) | u64 version = 1 | u8 dtype code |
// u64 N items | u64 M doc_idx entries | i32 sizes[N] | i64 pointers[N] (byte offsets into
// .bin) | i64 doc_idx[M]. dtype codes: 1 u8, 2 i8, 3 i16, 4 i32, 5 i64, 6 f32, 7 f64, 8 u16.
// .bin: raw tokens, no header. Several .bin shards (the preshuffled Pile's 21
// document-000NN-of-00020.bin) are read as one virtual file: their concatenation in the
// order given. Only the bytes asked for are read (pread); the idx is mmapped.
#ifndef MEMPROF_INDEXED_DATASET_H
#define MEMPROF_INDEXED_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"

enum { INDEXED_HEADER_BYTES = 34 };

typedef struct indexed_index {
    int dtype_code;
    int element_size;  // bytes per token
    uint64_t items;    // N
    uint64_t documents;  // M
    const uint8_t *sizes;     // N × int32, may be unaligned (read with memcpy)
    const uint8_t *pointers;  // N × int64
} indexed_index;

// Validates the header and that the arrays fit in size bytes. Item pointers are checked
// against the .bin when an item is read, not here (the Pile's index has 146M items).
int indexed_index_parse(indexed_index *out, const uint8_t *data, size_t size, const char *name, memprof_error *err);
// Item i's token count and byte offset, checked against bin_bytes.
int indexed_index_item(int64_t *out_tokens, int64_t *out_offset, const indexed_index *index, uint64_t item,
                       uint64_t bin_bytes, const char *name, memprof_error *err);

typedef struct token_store token_store;  // the .bin shards as one virtual file

// Opens the shards; dtype_code fixes the token width (8 = uint16 for Pythia).
int token_store_open(token_store **out, const char *const *paths, int n_paths, int dtype_code, memprof_error *err);
void token_store_close(token_store *store);
uint64_t token_store_bytes(const token_store *store);
uint64_t token_store_tokens(const token_store *store);
// Reads count tokens starting at token first of the virtual file, across shard boundaries.
// Integer dtypes only; values outside [0, 2^31) are errors.
int token_store_read(int32_t *out, const token_store *store, uint64_t first, uint64_t count, memprof_error *err);

typedef struct indexed_dataset indexed_dataset;  // an .idx mmapped + its token store

int indexed_dataset_open(indexed_dataset **out, const char *idx_path, const char *const *bin_paths, int n_bins,
                         memprof_error *err);
void indexed_dataset_close(indexed_dataset *dataset);
const indexed_index *indexed_dataset_index(const indexed_dataset *dataset);
const token_store *indexed_dataset_store(const indexed_dataset *dataset);
// Item i's tokens (sizes[i] of them) into out, which holds max_tokens.
int indexed_dataset_read_item(int32_t *out, int64_t *out_count, const indexed_dataset *dataset, uint64_t item,
                              int64_t max_tokens, memprof_error *err);

#endif
