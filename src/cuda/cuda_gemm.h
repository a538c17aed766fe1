// cuda_gemm.h — out[rows, out_dim] = in[rows, in_dim] · weight[out_dim, in_dim]ᵀ (+ bias)
// through cuBLASLt, fp16/bf16 inputs, fp32 accumulation, output in the scalar type or fp32.
//
// Determinism: one algorithm per (out_dim, in_dim, output type, epilogue), chosen once for
// the planned row count and reused for every smaller batch (each output element is then
// computed by the same kernel in the same order whatever the batch); reductions are
// restricted to none or fp32-in-workspace (no atomics, no fp16 split-K partials).
//
// Tuning (opt-in, cuda_gemm_set_tuning): instead of cuBLASLt's first heuristic answer, up
// to 8 candidates (same restrictions) are timed on the call's shape and the fastest kept,
// through a shared tuning file (cuda_gemm_tuning.h) so that every process using that file
// runs the same algorithm: timings differ from run to run and rank to rank, choices must not.
#ifndef MEMPROF_CUDA_GEMM_H
#define MEMPROF_CUDA_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"

typedef struct cuda_gemm_context cuda_gemm_context;

// SCALAR: out (fp16/bf16) = in·Wᵀ (+ bias, scalar). FLOAT: out (fp32) = in·Wᵀ.
// FLOAT_ACCUMULATE: out (fp32) += in·Wᵀ (+ bias, fp32): the residual add as the GEMM's
// epilogue (beta = 1, out read and written in place), so no separate pass over the stream.
enum { GEMM_OUTPUT_SCALAR = 0, GEMM_OUTPUT_FLOAT = 1, GEMM_OUTPUT_FLOAT_ACCUMULATE = 2 };

// selection_rows: the row count algorithms are chosen for (the planned batch).
int cuda_gemm_create(cuda_gemm_context **out, int scalar_type, int64_t selection_rows, void *stream,
                     memprof_error *err);
void cuda_gemm_destroy(cuda_gemm_context *context);
void cuda_gemm_set_selection_rows(cuda_gemm_context *context, int64_t rows);
// path: the tuning file (created when absent), or NULL for the untuned default.
void cuda_gemm_set_tuning(cuda_gemm_context *context, const char *path);
size_t cuda_gemm_workspace_bytes(void);

// bias ([out_dim]; the scalar type with GEMM_OUTPUT_SCALAR, fp32 with
// GEMM_OUTPUT_FLOAT_ACCUMULATE, not allowed with GEMM_OUTPUT_FLOAT) is a cuBLASLt epilogue.
int cuda_gemm_forward(cuda_gemm_context *context, void *out, int output_type, const void *in, const void *weight,
                      const void *bias, int64_t rows, int in_dim, int out_dim, memprof_error *err);
// The same on `processors` SMs only (0: all), leaving the others to a kernel on another
// stream (the chunked LM head's statistics): cuBLASLt's SM-count target, for its choice of
// algorithm and for the launch. A choice per processor count, cached and tuned separately;
// its low-order bits may differ from the all-SM algorithm's.
int cuda_gemm_forward_on(cuda_gemm_context *context, int processors, void *out, int output_type, const void *in,
                         const void *weight, const void *bias, int64_t rows, int in_dim, int out_dim,
                         memprof_error *err);
// The same with out's rows out_stride elements apart (≥ out_dim): the up GEMM writing the MLP's
// half of the joined residual GEMM's operand (MEMPROF_RESIDUAL_GEMM=joined). Its own choice
// of algorithm, cached and tuned apart from the packed shape's.
int cuda_gemm_forward_strided(cuda_gemm_context *context, void *out, int out_stride, int output_type, const void *in,
                              const void *weight, const void *bias, int64_t rows, int in_dim, int out_dim,
                              memprof_error *err);

#endif
