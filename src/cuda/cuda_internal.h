// cuda_internal.h — the CUDA backend's private state.
//
// Device buffers for a batch of up to capacity_tokens tokens (d = hidden, ff = intermediate,
// V = vocabulary, s = 2 bytes for fp16/bf16):
//   residual, branch, mlp [N, d] fp32     norm1, norm2, attention [N, d] s     qkv [N, 3d] s
//   hidden [N, ff] s                      logits [logits_rows, V] fp32
//   tokens, positions, targets [N] int32; surprisal, entropy [N] double; rank [N] int64
#ifndef MEMPROF_CUDA_INTERNAL_H
#define MEMPROF_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cuda/cuda_gemm.h"
#include "memprof/backend.h"
#include "memprof/checkpoint.h"

typedef struct cuda_layer_weights {
    void *ln1_weight, *ln1_bias, *ln2_weight, *ln2_bias;
    void *qkv_weight, *qkv_bias, *dense_weight, *dense_bias;
    void *up_weight, *up_bias, *down_weight, *down_bias;
} cuda_layer_weights;

typedef struct cuda_model {
    model_config config;
    int scalar_type;             // CUDA_SCALAR_FP16 or CUDA_SCALAR_BF16
    tensor_dtype weight_dtype;   // storage dtype of the checkpoint (rotary rounding, as on the CPU)
    void *stream;                // cudaStream_t
    int device;                  // the CUDA device holding everything below
    cuda_gemm_context *gemm;

    void *weights;               // one device allocation for every weight
    size_t weight_bytes;
    void *embed_in, *embed_out, *final_ln_weight, *final_ln_bias;
    cuda_layer_weights *layers;

    float *cos_table, *sin_table;  // device [table_positions, rot/2]
    int64_t table_positions;

    // Activations, (re)allocated by cuda_plan_batch.
    void *activations;
    int64_t capacity_tokens, logits_rows;
    int capacity_sequences;
    float *residual, *branch, *mlp, *logits;
    void *norm1, *norm2, *qkv, *attention, *hidden;
    int32_t *tokens, *positions, *targets, *starts, *lengths;
    double *surprisal, *entropy;
    int64_t *rank;

    int batch_sequences;         // from the options; 0 = plan from memory
    size_t memory_cap;           // bytes; 0 = none
    size_t peak_bytes;           // weights + activations + workspace, as allocated
} cuda_model;

int cuda_model_load(cuda_model **out, const checkpoint *ckpt, const backend_options *options, memprof_error *err);
// The model of that shape with its weight buffer allocated and every weight pointer set, unfilled.
int cuda_model_allocate(cuda_model **out, const model_config *config, tensor_dtype weight_dtype,
                        const backend_options *options, memprof_error *err);
void cuda_model_free(cuda_model *model);
// Makes room for sequences of up to max_length tokens; returns how many fit in one batch.
int cuda_plan_batch(int *out_sequences, cuda_model *model, int64_t max_length, memprof_error *err);
// The planner's arithmetic (no device calls): sequences of max_length tokens per batch from
// free_bytes of device memory (under memory_cap, when set, which also holds fixed_bytes of
// weights and workspace), 0 when not one fits; *out_logits_rows = rows of the logits buffer.
int cuda_plan_sequences(int64_t *out_logits_rows, const model_config *config, size_t free_bytes, size_t memory_cap,
                        size_t fixed_bytes, int64_t max_length);
int cuda_rotary_prepare(cuda_model *model, int64_t positions, memprof_error *err);

#endif
