// cuda_common.cuh — scalar conversions and deterministic block reductions shared by kernels.
#ifndef MEMPROF_CUDA_COMMON_CUH
#define MEMPROF_CUDA_COMMON_CUH

#include <stdint.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename scalar> __device__ __forceinline__ scalar from_float(float x);
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// GELU, the exact (erf) form GPT-NeoX uses, in fp32: the GELU kernel's and the fused up GEMM's.
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

// VEC consecutive 16-bit scalars or floats as one aligned access (VEC · 2 or VEC · 4 bytes).
template <typename scalar, int VEC> struct alignas(2 * VEC) scalar_vector { scalar lanes[VEC]; };
template <int VEC> struct alignas(4 * VEC) float_vector { float lanes[VEC]; };

// NeoX's rotate_half on VEC pairs (x[i], x[i + rot/2]) of one q or k row: x[i]·c − x[i + half]·s
// and x[i + half]·c + x[i]·s in fp32, each rounded once. Written as explicit FMAs so that every
// kernel that rotates (the rotary pass, the TMA attention's copying warps) gives the same bits
// (with a − b left to the compiler, which of the two products it fuses may differ).
template <typename scalar, int VEC>
__device__ __forceinline__ void rotate_pairs(scalar_vector<scalar, VEC> &first, scalar_vector<scalar, VEC> &second,
                                             const float_vector<VEC> &c, const float_vector<VEC> &s) {
#pragma unroll
    for (int k = 0; k < VEC; k++) {
        float a = to_float(first.lanes[k]), b = to_float(second.lanes[k]);
        first.lanes[k] = from_float<scalar>(fmaf(a, c.lanes[k], -(b * s.lanes[k])));
        second.lanes[k] = from_float<scalar>(fmaf(b, c.lanes[k], a * s.lanes[k]));
    }
}

template <typename value> __device__ __forceinline__ value warp_sum(value x) {
    for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

__device__ __forceinline__ float warp_max(float x) {
    for (int offset = 16; offset > 0; offset >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
    return x;
}

// Sum over the block (blockDim.x a multiple of 32, ≤ 1024) in a fixed tree: the same
// inputs give the same bits every time. Every thread receives the result.
template <typename value> __device__ value block_sum(value x, value *shared /* [32] */) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    x = warp_sum(x);
    __syncthreads();
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    value total = lane < warps ? shared[lane] : value(0);
    total = warp_sum(total);
    return total;
}

__device__ __forceinline__ float block_max(float x, float *shared /* [32] */) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    x = warp_max(x);
    __syncthreads();
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    float total = lane < warps ? shared[lane] : -INFINITY;
    return warp_max(total);
}

// An online softmax state over some logits z: max m, S = Σ exp(z − m), W = Σ exp(z − m)(z − m).
// Two states merge as m' = max(m1, m2), S' = Σ Sᵢ·e^{mᵢ−m'}, W' = Σ e^{mᵢ−m'}(Wᵢ + (mᵢ − m')·Sᵢ);
// the merge is symmetric, so a fixed merge tree gives the same bits every time.
typedef struct softmax_state {
    float max;
    double sum, weighted;
} softmax_state;

__device__ __forceinline__ softmax_state merge_states(softmax_state a, softmax_state b) {
    if (a.sum == 0.0) return b;  // an empty state (no elements seen)
    if (b.sum == 0.0) return a;
    float m = fmaxf(a.max, b.max);
    double scale_a = exp((double)(a.max - m)), scale_b = exp((double)(b.max - m));
    softmax_state out;
    out.max = m;
    out.sum = a.sum * scale_a + b.sum * scale_b;
    out.weighted = scale_a * (a.weighted + (double)(a.max - m) * a.sum) +
                   scale_b * (b.weighted + (double)(b.max - m) * b.sum);
    return out;
}

// Folds x into a thread's running state (m, s, w), where s = Σ e and w = Σ e·(x − m) with
// e = exp(x − m); exp is computed as exp2 of a log2 e–scaled argument (one MUFU op).
__device__ __forceinline__ void fold_value(float x, float m, float &s, float &w) {
    float shifted = x - m;
    float e = exp2f(shifted * 1.4426950408889634f);
    s += e;
    w += e * shifted;
}

// Moves the running state to a new maximum (never smaller than the old one).
__device__ __forceinline__ void raise_maximum(float new_max, float &m, float &s, float &w) {
    if (new_max <= m) return;
    if (s == 0.0f) {  // nothing folded yet: avoid (−inf)·0
        m = new_max;
        return;
    }
    float shift = m - new_max, scale = exp2f(shift * 1.4426950408889634f);
    w = scale * (w + shift * s);
    s *= scale;
    m = new_max;
}

// Swizzled operand tiles (cuda_wgmma.cuh): rows × (16-bit) elements stored as atom columns of
// W bytes per row (W, the swizzle width: 128, 64 or 32), chunk c of row r in column c/(W/16)
// at (c/(W/16))·rows·W + r·W + (c%(W/16))·16, from a 1024-byte-aligned tile, and then every
// byte offset permuted as the hardware's address swizzle does: its 16-byte chunk bits (4 …)
// XORed with its row-of-atom bits (7 …). A warp that copies whole rows then stores 128
// contiguous bytes per quarter-warp (no bank conflict) while reading whole L2 lines.
template <int W> __device__ __forceinline__ uint32_t swizzled_chunk_offset(int row, int chunk, int rows) {
    static_assert(W == 32 || W == 64 || W == 128, "a wgmma swizzle width");
    constexpr int chunks = W / 16;  // 16-byte chunks per row of an atom column
    uint32_t offset = (uint32_t)((chunk / chunks) * rows * W + row * W + (chunk % chunks) * 16);
    return offset ^ (((offset >> 7) & (chunks - 1)) << 4);
}
// The descriptor start advance (16-byte units) to k16 step kk of a K-major operand tile of
// `rows` rows: two chunk columns on in the chunk-major layout (W = 0), else 32 bytes along a
// swizzled atom row and then into the next atom column.
template <int W> __device__ __forceinline__ uint64_t wgmma_k_major_step(int kk, int rows) {
    if constexpr (W == 0) return (uint64_t)(kk * 2 * rows);
    else return (uint64_t)(((kk * 32) / W * rows * W + (kk * 32) % W) >> 4);
}
// The widest swizzle whose atom row divides a row of HD 16-bit elements.
template <int HD> struct swizzle_width {
    static_assert(HD % 16 == 0, "rows of whole 32-byte atom rows");
    static constexpr int value = HD % 64 == 0 ? 128 : HD % 32 == 0 ? 64 : 32;
};

#define LAUNCH_STATUS() ((int)cudaGetLastError())

#endif
