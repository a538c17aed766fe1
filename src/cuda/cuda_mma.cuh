// cuda_mma.cuh — the tensor-core building blocks the hand-written kernels share
// (cuda_flash_attention.cu, cuda_lm_head.cu): cp.async copies into shared memory, ldmatrix
// fragment loads and the mma.sync m16n8k16 product with fp32 accumulation.
//
// Fragment layouts (PTX ISA, mma.m16n8k16): lane = 4·g + t. A: a0 (row g, cols 2t..2t+1),
// a1 (row g+8), a2 (row g, cols 2t+8..), a3 (row g+8, cols 2t+8..). B: b0 (rows 2t..2t+1,
// col g), b1 (rows 2t+8..). C: c0,c1 (row g, cols 2t..2t+1), c2,c3 (row g+8).
#ifndef MEMPROF_CUDA_MMA_CUH
#define MEMPROF_CUDA_MMA_CUH

#include <stdint.h>

#include "cuda/cuda_common.cuh"

__device__ __forceinline__ uint32_t shared_address(const void *pointer) {
    return (uint32_t)__cvta_generic_to_shared(pointer);
}

// 16 bytes global → shared without a register round trip; invalid rows are zero-filled.
__device__ __forceinline__ void copy_async_16(void *destination, const void *source, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(destination)), "l"(source),
                 "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int pending> __device__ __forceinline__ void copy_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

__device__ __forceinline__ void load_matrix_x4(uint32_t r[4], const void *pointer) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(pointer)));
}
__device__ __forceinline__ void load_matrix_x4_transposed(uint32_t r[4], const void *pointer) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(pointer)));
}

// 2^x as the one MUFU.EX2 instruction (ex2.approx.ftz: relative error about 2⁻²², results
// below 2⁻¹²⁶ flushed to 0), where exp2f adds range handling for subnormal results.
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// c += a·b for one m16n8k16 tile.
template <typename scalar> __device__ __forceinline__ void mma_16x8x16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
template <> __device__ __forceinline__ void mma_16x8x16<__half>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16x8x16<__nv_bfloat16>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats rounded to the input type in one 32-bit register (the lower column in the low half).
template <typename scalar> __device__ __forceinline__ uint32_t pack_pair(float low, float high);
template <> __device__ __forceinline__ uint32_t pack_pair<__half>(float low, float high) {
    __half2 pair = __floats2half2_rn(low, high);
    return *(uint32_t *)&pair;
}
template <> __device__ __forceinline__ uint32_t pack_pair<__nv_bfloat16>(float low, float high) {
    __nv_bfloat162 pair = __floats2bfloat162_rn(low, high);
    return *(uint32_t *)&pair;
}

#endif
