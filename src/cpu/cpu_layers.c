// cpu_layers.c — fp32 building blocks of the GPT-NeoX forward pass, as HF computes them.
//
// Shapes (one sequence): in/out [T, d]; qkv [T, 3d] laid out per head as [q | k | v],
// each hd wide; scores [ATTENTION_BLOCK, T].
#include <math.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "cpu/cpu_math.h"

void layernorm_forward(float *out, const float *in, const float *weight, const float *bias, int64_t rows, int dim,
                       double eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        float *y = out + r * dim;
        // Double accumulation: the mean/variance of d ≤ 5120 floats is then exact to fp32.
        double sum = 0.0;
        for (int i = 0; i < dim; i++) sum += x[i];
        double mean = sum / dim;
        double squares = 0.0;
        for (int i = 0; i < dim; i++) {
            double centred = x[i] - mean;
            squares += centred * centred;
        }
        double inverse_std = 1.0 / sqrt(squares / dim + eps);  // biased variance, as nn.LayerNorm
        for (int i = 0; i < dim; i++)
            y[i] = (float)((x[i] - mean) * inverse_std) * weight[i] + bias[i];
    }
}

void linear_forward(float *out, const float *in, const float *weight, const float *bias, int64_t rows, int in_dim,
                    int out_dim) {
    matmul_transposed(out, in, weight, rows, out_dim, in_dim, in_dim, in_dim, out_dim, 1.0f);
    if (bias == NULL) return;
    for (int64_t r = 0; r < rows; r++) {
        float *y = out + r * out_dim;
        for (int j = 0; j < out_dim; j++) y[j] += bias[j];
    }
}

// NeoX "rotate_half" pairing (i, i + rot/2) on the first rot dims of each head's q and k.
void rotary_apply(float *qkv, const float *cos_table, const float *sin_table, int64_t tokens, int heads, int head_dim,
                  int rotary_dims) {
    int half = rotary_dims / 2;
    int64_t row_width = (int64_t)3 * heads * head_dim;
    for (int64_t t = 0; t < tokens; t++) {
        const float *c = cos_table + t * half;
        const float *s = sin_table + t * half;
        for (int h = 0; h < heads; h++) {
            for (int role = 0; role < 2; role++) {  // 0 = query, 1 = key
                float *x = qkv + t * row_width + (int64_t)h * 3 * head_dim + role * head_dim;
                for (int i = 0; i < half; i++) {
                    float first = x[i], second = x[i + half];
                    x[i] = first * c[i] - second * s[i];
                    x[i + half] = second * c[i] + first * s[i];
                }
            }
        }
    }
}

// Softmax over the first `visible` entries of a score row; the masked rest becomes 0.
__attribute__((target_clones("avx2", "default")))
static void softmax_causal_row(float *row, int64_t visible, int64_t length) {
    float max = row[0];
#pragma omp simd reduction(max : max)
    for (int64_t j = 1; j < visible; j++) max = row[j] > max ? row[j] : max;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < visible; j++) {
        row[j] = exp_vectorizable(row[j] - max);
        sum += row[j];
    }
    float inverse = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < visible; j++) row[j] *= inverse;
    for (int64_t j = visible; j < length; j++) row[j] = 0.0f;
}

// Causal softmax(q·kᵀ / sqrt(hd)) · v per head, in blocks of query rows so that only the
// lower triangle is computed and the score buffer stays [ATTENTION_BLOCK, T].
void causal_attention_forward(float *out, float *scores, const float *qkv, int64_t tokens, int heads, int head_dim) {
    int64_t row_width = (int64_t)3 * heads * head_dim;
    int64_t out_width = (int64_t)heads * head_dim;
    float scale = (float)(1.0 / sqrt((double)head_dim));
    for (int h = 0; h < heads; h++) {
        const float *q = qkv + (int64_t)h * 3 * head_dim;
        const float *k = q + head_dim;
        const float *v = q + 2 * head_dim;
        for (int64_t start = 0; start < tokens; start += ATTENTION_BLOCK) {
            int64_t rows = tokens - start < ATTENTION_BLOCK ? tokens - start : ATTENTION_BLOCK;
            int64_t keys = start + rows;  // queries in this block see keys [0, keys)
            matmul_transposed(scores, q + start * row_width, k, rows, keys, head_dim, row_width, row_width, keys, scale);
            for (int64_t r = 0; r < rows; r++) softmax_causal_row(scores + r * keys, start + r + 1, keys);
            matmul_plain(out + start * out_width + (int64_t)h * head_dim, scores, v, rows, head_dim, keys, keys, row_width,
                         out_width);
        }
    }
}

// Exact GELU, x·Φ(x), as torch.nn.functional.gelu (HF's "gelu"); not the tanh approximation.
void gelu_erf_forward(float *values, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        float x = values[i];
        values[i] = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    }
}
