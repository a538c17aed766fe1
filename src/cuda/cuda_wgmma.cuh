// cuda_wgmma.cuh — Hopper's warpgroup matrix products (wgmma.mma_async, sm_90a), for kernels
// whose four warps (a warpgroup, 128 threads) multiply a 64-row A by an N-column B, k = 16 at
// a time, with operands read by the tensor cores straight from shared memory (no ldmatrix).
//
// Operand tiles in shared memory use the no-swizzle ("interleave") layout: a core matrix is 8
// rows of 16 bytes stored as 128 contiguous bytes, and a descriptor gives the byte distance
// between core matrices along K (the leading byte offset, LBO) and along M or N (the stride
// byte offset, SBO). For 16-bit elements:
//   K-major  (rows along M/N, k contiguous):  byte of (mn, k) = (mn%8)·16 + (mn/8)·SBO + (k%8)·2 + (k/8)·LBO
//   MN-major (mn contiguous, rows along K):   byte of (mn, k) = (mn%8)·2 + (mn/8)·SBO + (k%8)·16 + (k/8)·LBO
// A k16 step further along K is the same descriptor with its start advanced by 2·LBO
// (K-major) or 2 core-matrix rows (MN-major: 2·LBO as well).
// Swizzled layouts (W = 128, 64 or 32 bytes, E = W/2 elements per atom row; tiles as
// cuda_common.cuh's swizzled_chunk_offset stores them): the byte offset below, then the
// address swizzle (chunk bits 4 … XOR row bits 7 …) applied to it:
//   K-major:   byte of (mn, k) = (mn%8)·W + (mn/8)·SBO + k·2   (a k16 step stays within an
//              atom row: the next one starts 32 bytes on, or in the next atom column; LBO unused)
//   MN-major:  byte of (mn, k) = (mn%E)·2 + (mn/E)·LBO + (k%8)·W + (k/8)·SBO
//
// Register layouts (thread t of the warpgroup: warp w = t/32, lane = 4g + q):
//   D (fp32, N/2 registers): d[4j + e] is row 16w + g + 8·(e/2), column 8j + 2q + e%2.
//   A from registers (4 × 32 bits): mma.m16n8k16's A layout for rows 16w … 16w+15: a0 (row g,
//   k 2q..2q+1), a1 (row g+8), a2 (row g, k 2q+8..), a3 (row g+8, k 2q+8..).
// So an S accumulator of 16 adjacent columns, rounded in pairs, is the A operand of the next
// product, as with mma.sync.
//
// Ordering: wgmma_fence() before the first product that reads registers written by ordinary
// code; products are asynchronous: wgmma_commit() closes a group, wgmma_wait<n>() returns
// when at most n groups are pending, and only then may their accumulators be read or their A
// registers and shared memory be reused. Shared memory written by ordinary stores or cp.async
// must be made visible to the tensor cores' (async) proxy: shared_async_fence() by each
// writer after its writes and before the barrier that precedes the products.
//
// The device side exists only in sm_90a code (MEMPROF_WGMMA_DEVICE); elsewhere the functions
// trap, and the launchers check the device before they pick a wgmma kernel. The CPU emulator
// (tests/emulator/cuda/cuda_wgmma.cuh) implements the same functions from these definitions.
#ifndef MEMPROF_CUDA_WGMMA_CUH
#define MEMPROF_CUDA_WGMMA_CUH

#include <stdint.h>

#include "cuda/cuda_mma.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MEMPROF_WGMMA_DEVICE 1
#endif

__device__ __forceinline__ void wgmma_unavailable() {
#ifdef __CUDA_ARCH__
    __trap();
#endif
}

// A no-swizzle operand descriptor: start address, LBO and SBO in 16-byte units (14 bits each).
__device__ __forceinline__ uint64_t wgmma_descriptor(const void *tile, uint32_t leading_bytes, uint32_t stride_bytes) {
    uint64_t start = (shared_address(tile) & 0x3FFFF) >> 4;
    return start | (uint64_t)((leading_bytes >> 4) & 0x3FFF) << 16 | (uint64_t)((stride_bytes >> 4) & 0x3FFF) << 32;
}

// A swizzled operand descriptor (cuda_common.cuh, swizzled_chunk_offset): layout type 1, 2 or
// 3 (W = 128, 64, 32) in bits 62–63; the start must lie in the first row of an atom.
template <int W> __device__ __forceinline__ uint64_t wgmma_swizzled_descriptor(const void *tile, uint32_t leading_bytes, uint32_t stride_bytes) {
    constexpr uint64_t type = W == 128 ? 1 : W == 64 ? 2 : 3;
    return wgmma_descriptor(tile, leading_bytes, stride_bytes) | type << 62;
}

__device__ __forceinline__ void wgmma_fence() {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int pending> __device__ __forceinline__ void wgmma_wait() {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(pending) : "memory");
#endif
}
// Generic-proxy writes to shared memory (st.shared, cp.async) made visible to wgmma's reads.
__device__ __forceinline__ void shared_async_fence() {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
// An ordinary store to shared memory that wgmma products will read (then
// shared_async_fence() and a barrier with the threads that issue them): a plain store here;
// the CPU emulator records it for its ordering check, as it does copies.
template <typename T> __device__ __forceinline__ void shared_store_for_products(T *at, const T &value) { *at = value; }
// Keeps the compiler from moving accesses of accumulator registers across the asynchronous
// products (an empty asm that "reads and writes" each register).
template <int count> __device__ __forceinline__ void wgmma_fence_operands(float (&registers)[count]) {
#pragma unroll
    for (int i = 0; i < count; i++) asm volatile("" : "+f"(registers[i])::"memory");
}
// The same for a descriptor: computed before the wgmma_fence() that opens a pipeline stage
// (an input register written inside a stage makes ptxas serialise its products).
__device__ __forceinline__ void wgmma_fence_operands(uint64_t &descriptor) { asm volatile("" : "+l"(descriptor)::"memory"); }

// d (+)= A·B for a 64 × N × 16 product, A and B K-major in shared memory (descriptors);
// accumulate = 0 overwrites d.
template <typename scalar, int N>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 2], uint64_t a, uint64_t b, int accumulate);
// d (+)= A·B with A from registers (layout above) and B MN-major in shared memory.
template <typename scalar, int N>
__device__ __forceinline__ void wgmma_rs_transposed_b(float (&d)[N / 2], const uint32_t a[4], uint64_t b, int accumulate);

#include "cuda/cuda_wgmma_ops.cuh"

#endif
