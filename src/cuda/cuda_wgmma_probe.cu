// cuda_wgmma_probe.cu — one warpgroup computes D = A·B (64 × 64 × 32: two k16 steps, the
// second accumulating) with each wgmma form the kernels use, from operands in global memory:
// the check that cuda_wgmma.cuh's descriptors, tile layouts and register layouts are the
// hardware's (tests/unit/test_cuda_wgmma.c compares with the product computed on the host).
//
// Shapes: a [64][32] (m, k) and b [32][64] (k, n) row-major in the input type, d [64][64] fp32.
// Forms: 0 = A and B K-major in shared memory (as S = Q·Kᵀ), 1 = A from registers and B
// MN-major in shared memory (as O += P·V). Tiles are chunk-major (no swizzle) or swizzled
// with a width of 32, 64 or 128 bytes, as the kernels store them.
// `variant` exchanges the two byte offsets of B's descriptor (bit 0) or A's (bit 1): wrong
// on purpose, so that a failing check can say which reading the hardware has.
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_tensor_map.h"
#include "cuda/cuda_wgmma.cuh"

enum { PROBE_M = 64, PROBE_N = 64, PROBE_K = 32 };

// Byte offset of element `element` of row `row` in a tile of `rows` rows: chunk-major (W = 0:
// chunk c = element/8 of row r at (c·rows + r)·16) or swizzled with width W
// (swizzled_chunk_offset).
template <int W> __device__ __forceinline__ uint32_t probe_offset(int row, int element, int rows) {
    if constexpr (W == 0) return (uint32_t)(((element / 8) * rows + row) * 16 + (element % 8) * 2);
    else return swizzled_chunk_offset<W>(row, element / 8, rows) + (uint32_t)(element % 8) * 2;
}
// A descriptor of a tile of `rows` rows: chunk-major (W = 0) with the given byte offsets, or
// swizzled with LBO = one atom column (rows·W) and SBO = 8 rows (8·W); `exchanged` swaps
// the two.
template <int W> __device__ __forceinline__ uint64_t probe_descriptor(const void *tile, int rows, bool mn_major, bool exchanged) {
    uint32_t leading = W == 0 ? (mn_major ? 128 : rows * 16) : rows * W, stride = W == 0 ? (mn_major ? rows * 16 : 128) : 8 * W;
    if (exchanged) {
        uint32_t swap = leading;
        leading = stride, stride = swap;
    }
    if constexpr (W == 0) return wgmma_descriptor(tile, leading, stride);
    else return wgmma_swizzled_descriptor<W>(tile, leading, stride);
}
template <typename scalar, int form, int W>
__global__ void __launch_bounds__(128) wgmma_probe_kernel(float *d, const uint16_t *a, const uint16_t *b, int variant) {
    extern __shared__ __align__(128) unsigned char shared[];
    // Tiles from a 1024-byte boundary (what the swizzle's address bits need), 8 KB each.
    unsigned char *base = shared + ((1024 - (shared_address(shared) & 1023)) & 1023);
    unsigned char *a_tile = base, *b_tile = base + 8192;
    int t = threadIdx.x;
    for (int i = t; i < PROBE_M * PROBE_K; i += 128)  // K-major: rows m, elements k
        *(uint16_t *)(a_tile + probe_offset<W>(i / PROBE_K, i % PROBE_K, PROBE_M)) = a[i];
    for (int i = t; i < PROBE_K * PROBE_N; i += 128) {
        int k = i / PROBE_N, n = i % PROBE_N;
        if constexpr (form == 0) *(uint16_t *)(b_tile + probe_offset<W>(n, k, PROBE_N)) = b[i];  // K-major: rows n
        else *(uint16_t *)(b_tile + probe_offset<W>(k, n, PROBE_K)) = b[i];                      // MN-major: rows k
    }
    shared_async_fence();
    __syncthreads();

    int warp = t >> 5, lane = t & 31, g = lane >> 2, q = lane & 3;
    float accumulator[PROBE_N / 2];
#pragma unroll
    for (int i = 0; i < PROBE_N / 2; i++) accumulator[i] = 0.0f;
    uint32_t registers[PROBE_K / 16][4];  // form 1's A: read by the products until the wait
    wgmma_fence_operands(accumulator);
    wgmma_fence();
    if constexpr (form == 0) {
        uint64_t a_descriptor = probe_descriptor<W>(a_tile, PROBE_M, false, variant & 2);
        uint64_t b_descriptor = probe_descriptor<W>(b_tile, PROBE_N, false, variant & 1);
#pragma unroll
        for (int kk = 0; kk < PROBE_K / 16; kk++)
            wgmma_ss<scalar, PROBE_N>(accumulator, a_descriptor + wgmma_k_major_step<W>(kk, PROBE_M),
                                      b_descriptor + wgmma_k_major_step<W>(kk, PROBE_N), kk > 0);
    } else {
        int row = warp * 16 + g;
        auto pair = [&](int r, int k) { return (uint32_t)a[r * PROBE_K + k] | (uint32_t)a[r * PROBE_K + k + 1] << 16; };
#pragma unroll
        for (int kk = 0; kk < PROBE_K / 16; kk++) {
            registers[kk][0] = pair(row, 16 * kk + 2 * q);
            registers[kk][1] = pair(row + 8, 16 * kk + 2 * q);
            registers[kk][2] = pair(row, 16 * kk + 2 * q + 8);
            registers[kk][3] = pair(row + 8, 16 * kk + 2 * q + 8);
        }
        wgmma_fence();
        // A k16 step is 16 rows of k on: 2 core matrices (256 bytes), or 16 swizzled rows.
        uint64_t b_descriptor = probe_descriptor<W>(b_tile, PROBE_K, true, variant & 1);
#pragma unroll
        for (int kk = 0; kk < PROBE_K / 16; kk++)
            wgmma_rs_transposed_b<scalar, PROBE_N>(accumulator, registers[kk],
                                                   b_descriptor + (uint64_t)(kk * 16 * (W == 0 ? 16 : W) / 16), kk > 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_operands(accumulator);
#pragma unroll
    for (int i = 0; i < PROBE_N / 2; i++) {
        int m = warp * 16 + g + ((i >> 1) & 1) * 8, n = (i >> 2) * 8 + 2 * q + (i & 1);
        d[m * PROBE_N + n] = accumulator[i];
    }
}

// 1 where the driver has the tensor-map encoder the TMA kernels need (it came with CUDA 12.0).
extern "C" int cuda_tensor_maps_available(void) { return tensor_map_encoder_find() != NULL; }

// 1 where this build has the sm_90a kernels and the current device runs them (compute
// capability 9.x), else 0.
extern "C" int cuda_wgmma_available(void) {
#ifdef MEMPROF_WGMMA_BUILT
    int device = 0, major = 0;
    if (cudaGetDevice(&device) != cudaSuccess) return 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) return 0;
    return major == 9;
#else
    return 0;
#endif
}

template <typename scalar, int W>
static void launch_probe(float *d, const uint16_t *a, const uint16_t *b, int form, int variant, cuda_stream stream) {
    size_t bytes = 1024 + 2 * 8192;  // two tiles and the slack to align them
    if (form == 0) wgmma_probe_kernel<scalar, 0, W><<<1, 128, bytes, stream>>>(d, a, b, variant);
    else wgmma_probe_kernel<scalar, 1, W><<<1, 128, bytes, stream>>>(d, a, b, variant);
}

template <typename scalar>
static void launch_probe_layout(float *d, const uint16_t *a, const uint16_t *b, int form, int variant, int width,
                                cuda_stream stream) {
    switch (width) {
    case 0: launch_probe<scalar, 0>(d, a, b, form, variant, stream); break;
    case 32: launch_probe<scalar, 32>(d, a, b, form, variant, stream); break;
    case 64: launch_probe<scalar, 64>(d, a, b, form, variant, stream); break;
    default: launch_probe<scalar, 128>(d, a, b, form, variant, stream); break;
    }
}

extern "C" int cuda_wgmma_probe(float *d, const void *a, const void *b, int form, int variant, int swizzle_width,
                                int scalar_type, cuda_stream stream) {
    if (!cuda_wgmma_available()) return -1;
    const uint16_t *a_bits = (const uint16_t *)a, *b_bits = (const uint16_t *)b;
    if ((form != 0 && form != 1) || (swizzle_width != 0 && swizzle_width != 32 && swizzle_width != 64 && swizzle_width != 128))
        return -1;
    if (scalar_type == CUDA_SCALAR_FP16) launch_probe_layout<__half>(d, a_bits, b_bits, form, variant, swizzle_width, stream);
    else launch_probe_layout<__nv_bfloat16>(d, a_bits, b_bits, form, variant, swizzle_width, stream);
    return LAUNCH_STATUS();
}
