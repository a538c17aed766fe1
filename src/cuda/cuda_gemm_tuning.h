// cuda_gemm_tuning.h — the GEMM tuning file: one cuBLASLt algorithm per key, shared by
// every process that scores with it (docs/design.md, "GEMM algorithm tuning").
//
// A text file, one line per tuned shape: KEY, a tab, 8 words as 16-digit hex separated by
// spaces: the algorithm's id and configuration attributes (cuda_gemm.c encodes them). KEY names the GPU, the
// cuBLASLt version, the scalar type and the shape, so an algorithm is never reused where it
// was not timed. Lines that do not parse are ignored; the first line for a key wins.
// No CUDA calls here: the format is tested without a GPU.
#ifndef MEMPROF_CUDA_GEMM_TUNING_H
#define MEMPROF_CUDA_GEMM_TUNING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cuda/cuda_gemm.h"
#include "memprof/error.h"

enum { GEMM_TUNING_WORDS = 8, GEMM_TUNING_KEY_MAX = 512 };

// "GPU|cublasLt VERSION|fp16|N out K in R rows|f32 out|bias" with tabs and newlines in the
// GPU name replaced by spaces; the output part is "scalar out", "f32 out" or "f32 += out"
// (output_type: GEMM_OUTPUT_* of cuda_gemm.h).
void gemm_tuning_key(char out[GEMM_TUNING_KEY_MAX], const char *gpu_name, size_t cublaslt_version, int scalar_type,
                     int out_dim, int in_dim, int64_t selection_rows, int output_type, int has_bias);

// Opens (creating it) and locks the file exclusively (flock): the first process to tune a
// shape holds the lock until its line is written, so every other one reads that choice.
int gemm_tuning_open(FILE **out, const char *path, memprof_error *err);
// Unlocks and closes.
void gemm_tuning_close(FILE *file);
// 1 and the words when the key has a line, 0 when not. Reads from the start.
int gemm_tuning_find(uint64_t words[GEMM_TUNING_WORDS], FILE *file, const char *key);
// Appends the key's line and flushes it to the file.
int gemm_tuning_append(FILE *file, const char *key, const uint64_t words[GEMM_TUNING_WORDS], memprof_error *err);

#endif
