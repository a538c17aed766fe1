// cpu_internal.h — the CPU reference backend's private pieces (fp32 GPT-NeoX forward).
//
// Shapes, for one sequence of T tokens (row-major, PyTorch nn.Linear weight layout [out, in]):
//   d = hidden_size, H = heads, hd = d / H, rot = rotary dims, ff = intermediate_size,
//   V = padded vocabulary, L = layers.
//   residual [T, d]; qkv [T, 3d] with per-head interleaving [H][q|k|v][hd];
//   attention output [T, d] head-major; mlp hidden [T, ff]; logits chunk [C, V].
#ifndef MEMPROF_CPU_INTERNAL_H
#define MEMPROF_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/backend.h"
#include "memprof/checkpoint.h"

typedef struct cpu_layer_weights {
    const float *ln1_weight, *ln1_bias;    // [d]   input_layernorm
    const float *ln2_weight, *ln2_bias;    // [d]   post_attention_layernorm
    const float *qkv_weight, *qkv_bias;    // [3d, d], [3d]
    const float *dense_weight, *dense_bias;  // [d, d], [d]
    const float *up_weight, *up_bias;      // [ff, d], [ff]   dense_h_to_4h
    const float *down_weight, *down_bias;  // [d, ff], [d]    dense_4h_to_h
} cpu_layer_weights;

typedef struct cpu_model {
    model_config config;
    float *storage;                  // one allocation holding every weight below
    size_t storage_floats;
    const float *embed_in;           // [V, d]
    cpu_layer_weights *layers;       // [L]
    const float *final_ln_weight, *final_ln_bias;  // [d]
    const float *embed_out;          // [V, d]
    float *rotary_cos, *rotary_sin;  // [rotary_positions, rot/2], grown on demand per score call
    int64_t rotary_positions;
    tensor_dtype weight_dtype;       // storage dtype of the checkpoint's weights
    int threads;
} cpu_model;

// Scratch for one sequence of up to max_tokens tokens; one per worker thread.
typedef struct cpu_workspace {
    int64_t max_tokens;
    float *residual;   // [T, d]
    float *norm1;      // [T, d]
    float *norm2;      // [T, d]
    float *qkv;        // [T, 3d]
    float *attention;  // [T, d]
    float *branch;     // [T, d]   attention dense output, then the MLP output is added
    float *hidden;     // [T, ff]
    float *scores;     // [ATTENTION_BLOCK, T]
    float *logits;     // [LOGITS_CHUNK, V]
} cpu_workspace;

// LOGITS_CHUNK rows per LM-head GEMM: large enough that repacking the [V, d] head per call
// is amortised, small enough for a [LOGITS_CHUNK, V] fp32 buffer per thread (≈ 51 MB at V = 50304).
enum { ATTENTION_BLOCK = 128, LOGITS_CHUNK = 256 };

int cpu_model_load(cpu_model **out, const checkpoint *ckpt, memprof_error *err);
// The model of that shape with storage allocated and every weight pointer set, storage unfilled.
int cpu_model_allocate(cpu_model **out, const model_config *config, tensor_dtype weight_dtype, memprof_error *err);
void cpu_model_free(cpu_model *model);
// Fills the fp32 cos/sin tables for positions [0, positions) as HF computes them.
int cpu_rotary_prepare(cpu_model *model, int64_t positions, memprof_error *err);

int cpu_workspace_alloc(cpu_workspace *out, const model_config *config, int64_t max_tokens, memprof_error *err);
void cpu_workspace_free(cpu_workspace *workspace);

// GEMMs (cpu_matmul.c): OpenBLAS, or a portable kernel when built with BLAS=none.
// out[M, N] = alpha · a[M, K] · b[N, K]ᵀ
void matmul_transposed(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda,
                       int64_t ldb, int64_t ldc, float alpha);
// out[M, N] = a[M, K] · b[K, N]
void matmul_plain(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                  int64_t ldc);
// Parallelism comes from the backend's own threads: BLAS stays sequential.
void matmul_use_one_thread(void);

// Building blocks (cpu_layers.c).
void layernorm_forward(float *out, const float *in, const float *weight, const float *bias, int64_t rows, int dim, double eps);
// out[rows, out_dim] = in[rows, in_dim] · weight[out_dim, in_dim]^T + bias
void linear_forward(float *out, const float *in, const float *weight, const float *bias, int64_t rows, int in_dim, int out_dim);
void rotary_apply(float *qkv, const float *cos_table, const float *sin_table, int64_t tokens, int heads, int head_dim, int rotary_dims);
void causal_attention_forward(float *out, float *scores, const float *qkv, int64_t tokens, int heads, int head_dim);
void gelu_erf_forward(float *values, int64_t count);

// The transformer up to and including the final LayerNorm: out in workspace->norm1 [T, d].
void cpu_forward_hidden(cpu_workspace *workspace, const cpu_model *model, const int32_t *tokens, int64_t length);

// LM head over the final hidden states, folded into the statistics of positions 0..T-2.
void cpu_statistics_forward(sequence_statistics *out, token_statistics *out_tokens, cpu_workspace *workspace,
                            const cpu_model *model, const int32_t *tokens, int64_t length);

#endif
