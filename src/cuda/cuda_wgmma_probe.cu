// cuda_wgmma_probe.cu — one warpgroup computes D = A·B (64 × 64 × 32: two k16 steps, the
// second accumulating) with each wgmma form the kernels use, from operands in global memory:
// the check that cuda_wgmma.cuh's descriptors, tile layouts and register layouts are the
// hardware's (tests/unit/test_cuda_wgmma.c compares with the product computed on the host).
//
// Shapes: a [64][32] (m, k) and b [32][64] (k, n) row-major in the input type, d [64][64] fp32.
// Forms: 0 = A and B K-major in shared memory (as S = Q·Kᵀ), 1 = A from registers and B
// MN-major in shared memory (as O += P·V). Tiles are chunk-major like the attention kernel's.
// `variant` exchanges the two byte offsets of B's descriptor (bit 0) or A's (bit 1): wrong
// on purpose, so that a failing check can say which reading the hardware has.
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_wgmma.cuh"

enum { PROBE_M = 64, PROBE_N = 64, PROBE_K = 32 };

template <typename scalar, int form>
__global__ void __launch_bounds__(128) wgmma_probe_kernel(float *d, const uint16_t *a, const uint16_t *b, int variant) {
    extern __shared__ __align__(128) unsigned char shared[];
    uint16_t *a_tile = (uint16_t *)shared;                   // chunk c = k/8, row m: (c·64 + m)·8 + k%8
    uint16_t *b_tile = (uint16_t *)(shared + PROBE_M * PROBE_K * 2);
    int t = threadIdx.x;
    for (int i = t; i < PROBE_M * PROBE_K; i += 128) {
        int m = i / PROBE_K, k = i % PROBE_K;
        a_tile[((k / 8) * PROBE_M + m) * 8 + k % 8] = a[i];
    }
    for (int i = t; i < PROBE_K * PROBE_N; i += 128) {
        int k = i / PROBE_N, n = i % PROBE_N;
        if constexpr (form == 0) b_tile[((k / 8) * PROBE_N + n) * 8 + k % 8] = b[i];  // K-major: rows n, chunks of k
        else b_tile[((n / 8) * PROBE_K + k) * 8 + n % 8] = b[i];            // MN-major: rows k, chunks of n
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
        uint64_t a_descriptor = variant & 2 ? wgmma_descriptor(a_tile, 128, PROBE_M * 16)
                                            : wgmma_descriptor(a_tile, PROBE_M * 16, 128);
        uint64_t b_descriptor = variant & 1 ? wgmma_descriptor(b_tile, 128, PROBE_N * 16)
                                            : wgmma_descriptor(b_tile, PROBE_N * 16, 128);
#pragma unroll
        for (int kk = 0; kk < PROBE_K / 16; kk++)
            wgmma_ss<scalar, PROBE_N>(accumulator, a_descriptor + (uint64_t)(kk * 2 * PROBE_M),
                                      b_descriptor + (uint64_t)(kk * 2 * PROBE_N), kk > 0);
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
        uint64_t b_descriptor = variant & 1 ? wgmma_descriptor(b_tile, PROBE_K * 16, 128)
                                            : wgmma_descriptor(b_tile, 128, PROBE_K * 16);
#pragma unroll
        for (int kk = 0; kk < PROBE_K / 16; kk++)
            wgmma_rs_transposed_b<scalar, PROBE_N>(accumulator, registers[kk], b_descriptor + (uint64_t)(kk * 2 * 128 / 16),
                                                   kk > 0);
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

extern "C" int cuda_wgmma_probe(float *d, const void *a, const void *b, int form, int variant, int scalar_type,
                                cuda_stream stream) {
    if (!cuda_wgmma_available()) return -1;
    size_t bytes = (PROBE_M * PROBE_K + PROBE_K * PROBE_N) * 2;
    const uint16_t *a_bits = (const uint16_t *)a, *b_bits = (const uint16_t *)b;
    if (form != 0 && form != 1) return -1;
    if (scalar_type == CUDA_SCALAR_FP16) {
        if (form == 0) wgmma_probe_kernel<__half, 0><<<1, 128, bytes, stream>>>(d, a_bits, b_bits, variant);
        else wgmma_probe_kernel<__half, 1><<<1, 128, bytes, stream>>>(d, a_bits, b_bits, variant);
    } else {
        if (form == 0) wgmma_probe_kernel<__nv_bfloat16, 0><<<1, 128, bytes, stream>>>(d, a_bits, b_bits, variant);
        else wgmma_probe_kernel<__nv_bfloat16, 1><<<1, 128, bytes, stream>>>(d, a_bits, b_bits, variant);
    }
    return LAUNCH_STATUS();
}
