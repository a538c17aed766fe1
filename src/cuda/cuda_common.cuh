// cuda_common.cuh — scalar conversions and deterministic block reductions shared by kernels.
#ifndef MEMPROF_CUDA_COMMON_CUH
#define MEMPROF_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename scalar> __device__ __forceinline__ scalar from_float(float x);
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

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

#define LAUNCH_STATUS() ((int)cudaGetLastError())

#endif
