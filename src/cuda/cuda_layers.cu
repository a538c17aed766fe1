// cuda_layers.cu — the element-wise and row-wise pieces of the GPT-NeoX forward pass:
// embedding gather, the two LayerNorms of a layer in one pass, partial rotary, erf GELU,
// the summed bias of the parallel residual, and fp32 → fp16/bf16 conversion. All math in fp32.
#include <math.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

template <typename scalar>
__global__ void embedding_kernel(float *residual, const scalar *embedding, const int32_t *tokens, int dim) {
    int64_t row = blockIdx.x;
    const scalar *source = embedding + (int64_t)tokens[row] * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) residual[row * dim + i] = to_float(source[i]);
}

// One block per row. Two passes over the row (mean, then centred variance) in fp32 with a
// fixed reduction tree; the variance is biased, as torch.nn.LayerNorm.
template <typename scalar>
__global__ void layernorm_kernel(scalar *out1, scalar *out2, const float *in, const scalar *w1, const scalar *b1,
                                 const scalar *w2, const scalar *b2, int dim, float eps) {
    __shared__ float shared[32];
    int64_t row = blockIdx.x;
    const float *x = in + row * dim;
    float partial = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) partial += x[i];
    float mean = block_sum(partial, shared) / (float)dim;
    partial = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float centred = x[i] - mean;
        partial += centred * centred;
    }
    float inverse_std = rsqrtf(block_sum(partial, shared) / (float)dim + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float normalised = (x[i] - mean) * inverse_std;
        out1[row * dim + i] = from_float<scalar>(normalised * to_float(w1[i]) + to_float(b1[i]));
        if (out2) out2[row * dim + i] = from_float<scalar>(normalised * to_float(w2[i]) + to_float(b2[i]));
    }
}

// Four scalars in 8 bytes: one vector load or store for four neighbouring elements.
template <typename scalar> union scalar4 {
    uint2 bits;
    scalar lanes[4];
};

// The same with the row held in registers (VECTORS float4 per thread): the row is read from
// memory once instead of three times, and every load and store moves 4 neighbouring elements
// (a warp's store covers 256 contiguous bytes). For dim % 4 == 0, dim ≤ 4·VECTORS·blockDim,
// 16-byte aligned rows and 8-byte aligned weights and outputs.
template <typename scalar, int VECTORS>
__global__ void layernorm_registers_kernel(scalar *out1, scalar *out2, const float *in, const scalar *w1,
                                           const scalar *b1, const scalar *w2, const scalar *b2, int dim, float eps) {
    __shared__ float shared[32];
    int64_t row = blockIdx.x;
    const float4 *x = (const float4 *)(in + row * dim);
    int vectors = dim / 4;
    float4 v[VECTORS];
    float partial = 0.0f;
#pragma unroll
    for (int k = 0; k < VECTORS; k++) {
        int c = threadIdx.x + k * blockDim.x;
        v[k] = c < vectors ? x[c] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        partial += (v[k].x + v[k].y) + (v[k].z + v[k].w);
    }
    float mean = block_sum(partial, shared) / (float)dim;
    partial = 0.0f;
#pragma unroll
    for (int k = 0; k < VECTORS; k++) {
        if (threadIdx.x + k * blockDim.x >= vectors) continue;
        float a = v[k].x - mean, b = v[k].y - mean, c = v[k].z - mean, e = v[k].w - mean;
        partial += (a * a + b * b) + (c * c + e * e);
    }
    float inverse_std = rsqrtf(block_sum(partial, shared) / (float)dim + eps);
    uint2 *row1 = (uint2 *)(out1 + row * dim), *row2 = out2 ? (uint2 *)(out2 + row * dim) : NULL;
#pragma unroll
    for (int k = 0; k < VECTORS; k++) {
        int c = threadIdx.x + k * blockDim.x;
        if (c >= vectors) continue;
        float n[4] = {(v[k].x - mean) * inverse_std, (v[k].y - mean) * inverse_std, (v[k].z - mean) * inverse_std,
                      (v[k].w - mean) * inverse_std};
        scalar4<scalar> w, b, o;
        w.bits = ((const uint2 *)w1)[c], b.bits = ((const uint2 *)b1)[c];
#pragma unroll
        for (int i = 0; i < 4; i++) o.lanes[i] = from_float<scalar>(n[i] * to_float(w.lanes[i]) + to_float(b.lanes[i]));
        row1[c] = o.bits;
        if (row2) {
            w.bits = ((const uint2 *)w2)[c], b.bits = ((const uint2 *)b2)[c];
#pragma unroll
            for (int i = 0; i < 4; i++) o.lanes[i] = from_float<scalar>(n[i] * to_float(w.lanes[i]) + to_float(b.lanes[i]));
            row2[c] = o.bits;
        }
    }
}

// NeoX rotate_half pairing (i, i + rot/2) on the first rot dims of q and k of each head:
// x[i], x[i + half] → x[i]·c − x[i + half]·s, x[i + half]·c + x[i]·s with c, s of (position, i).
// A thread owns VEC consecutive i of one (head, role) — one VEC-wide load or store each of
// x[i …], x[i + half …], cos and sin — and walks ROTARY_ROWS rows with the same item, so its
// index arithmetic is done once (one block per row of 2-byte accesses and per-element
// divisions ran at about a quarter of the memory's rate: 2% of the GPU time at 2.8b; with
// this form and one row's loads at a time, still 2.2% there and 1.2% at 1.4b, ≈ 1.6 TB/s).
enum { ROTARY_ROWS = 8, ROTARY_THREADS = 128 };

template <typename scalar, int VEC>
__global__ void rotary_kernel(scalar *qkv, const float *cos_table, const float *sin_table, const int32_t *positions,
                              int64_t rows, int heads, int head_dim, int rotary_dims) {
    int half = rotary_dims / 2, vectors = half / VEC, items = heads * 2 * vectors;
    // Threads run over (group of ROTARY_ROWS rows, item) with the item fastest, so no block has
    // idle threads when the items of a row are not a multiple of its size (2.8b: 320).
    int64_t thread = (int64_t)blockIdx.x * ROTARY_THREADS + threadIdx.x;
    int64_t first_row = thread / items * ROTARY_ROWS;
    if (first_row >= rows) return;
    int item = (int)(thread % items);
    int head = item / (2 * vectors), role = (item / vectors) % 2, i = (item % vectors) * VEC;  // role 0 = q, 1 = k
    int64_t offset = (int64_t)head * 3 * head_dim + role * head_dim + i, width = 3LL * heads * head_dim;
    int count = rows - first_row < ROTARY_ROWS ? (int)(rows - first_row) : ROTARY_ROWS;
    // Every row's q/k loads before any row's arithmetic: one row at a time kept two small
    // loads in flight per thread (the stores in between may alias the next row's loads, so
    // the compiler cannot hoist them). cos and sin come from small tables that stay in cache.
    scalar_vector<scalar, VEC> first[ROTARY_ROWS], second[ROTARY_ROWS];
    int32_t position[ROTARY_ROWS];
    const scalar *block_rows = qkv + first_row * width + offset;
#pragma unroll
    for (int r = 0; r < ROTARY_ROWS; r++) {
        if (r >= count) continue;
        position[r] = positions[first_row + r];
        first[r] = *(const scalar_vector<scalar, VEC> *)(block_rows + r * width);
        second[r] = *(const scalar_vector<scalar, VEC> *)(block_rows + r * width + half);
    }
#pragma unroll
    for (int r = 0; r < ROTARY_ROWS; r++) {
        if (r >= count) continue;
        float_vector<VEC> c = *(const float_vector<VEC> *)(cos_table + (int64_t)position[r] * half + i);
        float_vector<VEC> s = *(const float_vector<VEC> *)(sin_table + (int64_t)position[r] * half + i);
        rotate_pairs<scalar, VEC>(first[r], second[r], c, s);
        scalar *x = qkv + (first_row + r) * width + offset;
        *(scalar_vector<scalar, VEC> *)x = first[r];
        *(scalar_vector<scalar, VEC> *)(x + half) = second[r];
    }
}

template <typename scalar, int VEC>
static void launch_rotary(scalar *qkv, const float *cos_table, const float *sin_table, const int32_t *positions,
                          int64_t rows, int heads, int head_dim, int rotary_dims, cuda_stream stream) {
    int items = heads * 2 * (rotary_dims / 2 / VEC);
    int64_t threads = (rows + ROTARY_ROWS - 1) / ROTARY_ROWS * items;
    unsigned grid = (unsigned)((threads + ROTARY_THREADS - 1) / ROTARY_THREADS);
    rotary_kernel<scalar, VEC><<<grid, ROTARY_THREADS, 0, stream>>>(qkv, cos_table, sin_table, positions, rows, heads,
                                                                    head_dim, rotary_dims);
}

// The widest vector that divides half (Pythia: rot = head_dim/4, so half is 4 … 32, or 10 at 2.8b).
template <typename scalar>
static void rotary(scalar *qkv, const float *cos_table, const float *sin_table, const int32_t *positions, int64_t rows,
                   int heads, int head_dim, int rotary_dims, cuda_stream stream) {
    int half = rotary_dims / 2;
    if (half % 4 == 0) launch_rotary<scalar, 4>(qkv, cos_table, sin_table, positions, rows, heads, head_dim, rotary_dims, stream);
    else if (half % 2 == 0) launch_rotary<scalar, 2>(qkv, cos_table, sin_table, positions, rows, heads, head_dim, rotary_dims, stream);
    else launch_rotary<scalar, 1>(qkv, cos_table, sin_table, positions, rows, heads, head_dim, rotary_dims, stream);
}

// 8 values per 16-byte load, GELU_LOADS loads per thread issued before any is computed on;
// the tail (count not a multiple of 8) one at a time. With one load at a time, a thread
// computing its 8 erfs (≈ 30 instructions each) has nothing in flight, and the pass ran at
// ≈ 2.4 TB/s where LayerNorm, with all its loads up front, reached ≈ 2.9 (H100 step profiles):
// the reads in flight, not the bytes or the issue rate, set its speed. Block b owns vectors
// [b·GELU_LOADS·256, (b+1)·GELU_LOADS·256), thread t the t-th of each 256 (coalesced).
enum { GELU_LOADS = 4, GELU_THREADS = 256 };
// Where vector i (8 values) is: i·8 when packed; with ROWS, at row i / row_vectors, stride
// elements apart (the joined residual GEMM's operand; 32-bit division while it fits).
template <bool ROWS>
__device__ __forceinline__ int64_t gelu_vector_offset(int64_t i, int64_t row_vectors, int64_t stride) {
    if (!ROWS) return i * 8;
    int64_t row = i <= (int64_t)UINT32_MAX ? (int64_t)((uint32_t)i / (uint32_t)row_vectors) : i / row_vectors;
    return row * stride + (i - row * row_vectors) * 8;
}

// count values; with ROWS, count = rows · row_vectors · 8 (no tail).
template <typename scalar, bool ROWS>
__global__ void gelu_kernel(scalar *values, int64_t count, int64_t row_vectors, int64_t stride) {
    const int64_t vectors = count / 8, span = (int64_t)GELU_LOADS * GELU_THREADS;
    for (int64_t base = blockIdx.x * span; base < vectors; base += (int64_t)gridDim.x * span) {
        uint4 packed[GELU_LOADS];
#pragma unroll
        for (int k = 0; k < GELU_LOADS; k++) {
            int64_t i = base + k * GELU_THREADS + threadIdx.x;
            if (i < vectors) packed[k] = *(const uint4 *)(values + gelu_vector_offset<ROWS>(i, row_vectors, stride));
        }
#pragma unroll
        for (int k = 0; k < GELU_LOADS; k++) {
            int64_t i = base + k * GELU_THREADS + threadIdx.x;
            if (i >= vectors) continue;
            scalar *lanes = (scalar *)&packed[k];
#pragma unroll
            for (int e = 0; e < 8; e++) lanes[e] = from_float<scalar>(gelu_erf(to_float(lanes[e])));
            *(uint4 *)(values + gelu_vector_offset<ROWS>(i, row_vectors, stride)) = packed[k];
        }
    }
    if (!ROWS && blockIdx.x == 0)
        for (int64_t i = vectors * 8 + threadIdx.x; i < count; i += GELU_THREADS)
            values[i] = from_float<scalar>(gelu_erf(to_float(values[i])));
}

template <typename scalar>
__global__ void bias_sum_kernel(float *sum, const scalar *attention_bias, const scalar *mlp_bias, int dim) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < dim; i += gridDim.x * blockDim.x)
        sum[i] = to_float(attention_bias[i]) + to_float(mlp_bias[i]);
}

template <typename scalar> __global__ void convert_kernel(scalar *dst, const float *src, int64_t count) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = from_float<scalar>(src[i]);
}

// Exact widening of each checkpoint dtype to fp32 (fp16 and bf16 values are all fp32 values).
__device__ __forceinline__ float source_to_float(float x) { return x; }
__device__ __forceinline__ float source_to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float source_to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename scalar, typename source>
__global__ void convert_source_kernel(scalar *dst, const source *src, int64_t count) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = from_float<scalar>(source_to_float(src[i]));
}

// The same into rows of `width` values whose starts are `stride` apart in dst.
template <typename scalar, typename source>
__global__ void convert_source_rows_kernel(scalar *dst, int64_t stride, const source *src, int64_t count,
                                           int64_t width) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / width;
        dst[row * stride + (i - row * width)] = from_float<scalar>(source_to_float(src[i]));
    }
}

static unsigned grid_for(int64_t count) {
    int64_t blocks = (count + 255) / 256;
    return (unsigned)(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

#define DISPATCH(scalar_type, call_fp16, call_bf16) \
    do {                                            \
        if ((scalar_type) == CUDA_SCALAR_FP16) {    \
            call_fp16;                              \
        } else {                                    \
            call_bf16;                              \
        }                                           \
    } while (0)

extern "C" int cuda_embedding_forward(float *residual, const void *embedding, const int32_t *tokens,
                                      int64_t tokens_count, int dim, int scalar_type, cuda_stream stream) {
    if (tokens_count == 0) return 0;
    DISPATCH(scalar_type,
             (embedding_kernel<__half><<<(unsigned)tokens_count, 256, 0, stream>>>(residual, (const __half *)embedding, tokens, dim)),
             (embedding_kernel<__nv_bfloat16><<<(unsigned)tokens_count, 256, 0, stream>>>(residual, (const __nv_bfloat16 *)embedding, tokens, dim)));
    return LAUNCH_STATUS();
}

static bool aligned_to(const void *pointer, uintptr_t bytes) { return pointer == NULL || (uintptr_t)pointer % bytes == 0; }

template <typename scalar>
static void launch_layernorm(scalar *out1, scalar *out2, const float *in, const scalar *w1, const scalar *b1,
                             const scalar *w2, const scalar *b2, int64_t rows, int dim, float eps, cuda_stream stream) {
    int vectors = dim / 4, threads = vectors <= 128 ? 128 : 256;
    int per_thread = (vectors + threads - 1) / threads;  // float4 per thread
    bool vectorised = dim % 4 == 0 && per_thread <= 8 && aligned_to(in, 16) && aligned_to(out1, 8) &&
                      aligned_to(out2, 8) && aligned_to(w1, 8) && aligned_to(b1, 8) && aligned_to(w2, 8) &&
                      aligned_to(b2, 8);
    if (!vectorised)
        layernorm_kernel<scalar><<<(unsigned)rows, 256, 0, stream>>>(out1, out2, in, w1, b1, w2, b2, dim, eps);
    else if (per_thread <= 1)
        layernorm_registers_kernel<scalar, 1><<<(unsigned)rows, threads, 0, stream>>>(out1, out2, in, w1, b1, w2, b2, dim, eps);
    else if (per_thread <= 2)
        layernorm_registers_kernel<scalar, 2><<<(unsigned)rows, threads, 0, stream>>>(out1, out2, in, w1, b1, w2, b2, dim, eps);
    else if (per_thread <= 4)
        layernorm_registers_kernel<scalar, 4><<<(unsigned)rows, threads, 0, stream>>>(out1, out2, in, w1, b1, w2, b2, dim, eps);
    else
        layernorm_registers_kernel<scalar, 8><<<(unsigned)rows, threads, 0, stream>>>(out1, out2, in, w1, b1, w2, b2, dim, eps);
}

extern "C" int cuda_layernorm_forward(void *out1, void *out2, const float *in, const void *w1, const void *b1,
                                      const void *w2, const void *b2, int64_t rows, int dim, float eps,
                                      int scalar_type, cuda_stream stream) {
    if (rows == 0) return 0;
    DISPATCH(scalar_type,
             launch_layernorm<__half>((__half *)out1, (__half *)out2, in, (const __half *)w1, (const __half *)b1,
                                      (const __half *)w2, (const __half *)b2, rows, dim, eps, stream),
             launch_layernorm<__nv_bfloat16>((__nv_bfloat16 *)out1, (__nv_bfloat16 *)out2, in, (const __nv_bfloat16 *)w1,
                                             (const __nv_bfloat16 *)b1, (const __nv_bfloat16 *)w2,
                                             (const __nv_bfloat16 *)b2, rows, dim, eps, stream));
    return LAUNCH_STATUS();
}

extern "C" int cuda_rotary_forward(void *qkv, const float *cos_table, const float *sin_table, const int32_t *positions,
                                   int64_t tokens_count, int heads, int head_dim, int rotary_dims, int scalar_type,
                                   cuda_stream stream) {
    if (tokens_count == 0 || rotary_dims < 2) return 0;
    DISPATCH(scalar_type,
             rotary((__half *)qkv, cos_table, sin_table, positions, tokens_count, heads, head_dim, rotary_dims, stream),
             rotary((__nv_bfloat16 *)qkv, cos_table, sin_table, positions, tokens_count, heads, head_dim, rotary_dims,
                    stream));
    return LAUNCH_STATUS();
}

static unsigned gelu_grid(int64_t count) {
    int64_t blocks = (count / 8 + GELU_LOADS * GELU_THREADS - 1) / (GELU_LOADS * GELU_THREADS);
    return (unsigned)(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

extern "C" int cuda_gelu_forward(void *values, int64_t count, int scalar_type, cuda_stream stream) {
    if (count == 0) return 0;
    unsigned grid = gelu_grid(count);
    DISPATCH(scalar_type,
             (gelu_kernel<__half, false><<<grid, GELU_THREADS, 0, stream>>>((__half *)values, count, 0, 0)),
             (gelu_kernel<__nv_bfloat16, false><<<grid, GELU_THREADS, 0, stream>>>((__nv_bfloat16 *)values, count, 0,
                                                                                   0)));
    return LAUNCH_STATUS();
}

extern "C" int cuda_gelu_rows_forward(void *values, int64_t rows, int width, int stride, int scalar_type,
                                      cuda_stream stream) {
    if (width <= 0 || width % 8 != 0 || stride < width || stride % 8 != 0 || !aligned_to(values, 16))
        return (int)cudaErrorInvalidValue;
    if (rows == 0) return 0;
    int64_t count = rows * width;
    unsigned grid = gelu_grid(count);
    DISPATCH(scalar_type,
             (gelu_kernel<__half, true><<<grid, GELU_THREADS, 0, stream>>>((__half *)values, count, width / 8, stride)),
             (gelu_kernel<__nv_bfloat16, true><<<grid, GELU_THREADS, 0, stream>>>(
                 (__nv_bfloat16 *)values, count, width / 8, stride)));
    return LAUNCH_STATUS();
}

extern "C" int cuda_bias_sum(float *sum, const void *attention_bias, const void *mlp_bias, int dim, int scalar_type,
                             cuda_stream stream) {
    if (dim == 0) return 0;
    DISPATCH(scalar_type,
             (bias_sum_kernel<__half><<<grid_for(dim), 256, 0, stream>>>(sum, (const __half *)attention_bias,
                                                                       (const __half *)mlp_bias, dim)),
             (bias_sum_kernel<__nv_bfloat16><<<grid_for(dim), 256, 0, stream>>>(
                 sum, (const __nv_bfloat16 *)attention_bias, (const __nv_bfloat16 *)mlp_bias, dim)));
    return LAUNCH_STATUS();
}

extern "C" int cuda_convert_from_float(void *dst, const float *src, int64_t count, int scalar_type, cuda_stream stream) {
    if (count == 0) return 0;
    DISPATCH(scalar_type, (convert_kernel<__half><<<grid_for(count), 256, 0, stream>>>((__half *)dst, src, count)),
             (convert_kernel<__nv_bfloat16><<<grid_for(count), 256, 0, stream>>>((__nv_bfloat16 *)dst, src, count)));
    return LAUNCH_STATUS();
}

// width 0: count packed values; else rows of width values, stride apart in dst.
template <typename scalar, typename source>
static void convert_from(scalar *dst, int64_t stride, const source *src, int64_t count, int64_t width,
                         cuda_stream stream) {
    if (width == 0)
        convert_source_kernel<<<grid_for(count), 256, 0, stream>>>(dst, src, count);
    else
        convert_source_rows_kernel<<<grid_for(count), 256, 0, stream>>>(dst, stride, src, count, width);
}

template <typename scalar>
static int convert_weights_to(scalar *dst, int64_t stride, const void *src, int64_t count, int64_t width,
                              int source_type, cuda_stream stream) {
    if (source_type == CUDA_SOURCE_F16)
        convert_from(dst, stride, (const __half *)src, count, width, stream);
    else if (source_type == CUDA_SOURCE_BF16)
        convert_from(dst, stride, (const __nv_bfloat16 *)src, count, width, stream);
    else if (source_type == CUDA_SOURCE_F32)
        convert_from(dst, stride, (const float *)src, count, width, stream);
    else
        return (int)cudaErrorInvalidValue;
    return LAUNCH_STATUS();
}

extern "C" int cuda_convert_weights(void *dst, const void *src, int64_t count, int source_type, int scalar_type,
                                    cuda_stream stream) {
    if (count == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return convert_weights_to((__half *)dst, 0, src, count, 0, source_type, stream);
    return convert_weights_to((__nv_bfloat16 *)dst, 0, src, count, 0, source_type, stream);
}

extern "C" int cuda_convert_weights_rows(void *dst, int64_t stride, const void *src, int64_t rows, int64_t width,
                                         int source_type, int scalar_type, cuda_stream stream) {
    if (width <= 0 || stride < width) return (int)cudaErrorInvalidValue;
    if (rows == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return convert_weights_to((__half *)dst, stride, src, rows * width, width, source_type, stream);
    return convert_weights_to((__nv_bfloat16 *)dst, stride, src, rows * width, width, source_type, stream);
}
