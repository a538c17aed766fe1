// cuda_wgmma.cuh, emulated — the functions of src/cuda/cuda_wgmma.cuh for the CPU emulator,
// from the definitions written there (PTX ISA: wgmma.mma_async, matrix descriptors, the
// no-swizzle and swizzled shared-memory layouts, the D and A register fragments).
//
// A product is queued by each thread of the warpgroup and done at the wgmma_wait that needs
// it (like the hardware's asynchronous groups): then the warpgroup meets, every thread reads
// A and B as the descriptors and the other threads' A registers say, and computes its own D
// elements: each c + (Σ of the 16 products in double, k ascending), rounded once to float.
// So shared memory or A registers changed before the wait, a descriptor that differs between
// the threads, or a swizzled descriptor whose start the layout does not allow, show as wrong
// results or a reported error.
#ifndef MEMPROF_CUDA_WGMMA_CUH
#define MEMPROF_CUDA_WGMMA_CUH

#include <stdint.h>

#include "cuda/cuda_mma.cuh"

namespace emu {
struct wgmma_request {
    float *d;
    int n;                  // columns of D
    const uint32_t *a_registers;  // A from registers (4 per thread), or NULL: A from a_descriptor
    uint64_t a_descriptor, b_descriptor;
    int accumulate, transposed_b, bfloat;
};
void wgmma_fence();
void wgmma_issue(const wgmma_request &request);
void wgmma_commit();
void wgmma_wait(int pending);
// The byte offset of a pointer into the block's shared memory (what a descriptor encodes).
uint32_t shared_window_address(const void *pointer);
// An ordinary store of `bytes` at `at` that products will read: recorded as a copy is (its
// writer and epoch), so a product issued by a thread that no barrier ordered after it shows.
void record_shared_store(const void *at, size_t bytes);
// fence.proxy.async: the calling thread's generic-proxy writes (recorded stores, landed
// cp.async copies) made visible to the products of threads that acquire this epoch of it; a
// product that reads such a write without it is reported (the ordering check's, in
// cuda_emulator.cc).
void shared_async_fence();
}  // namespace emu

inline uint64_t wgmma_descriptor(const void *tile, uint32_t leading_bytes, uint32_t stride_bytes) {
    uint64_t start = (emu::shared_window_address(tile) & 0x3FFFF) >> 4;
    return start | (uint64_t)((leading_bytes >> 4) & 0x3FFF) << 16 | (uint64_t)((stride_bytes >> 4) & 0x3FFF) << 32;
}

// A swizzled operand descriptor (cuda_common.cuh, swizzled_chunk_offset): layout type 1, 2 or
// 3 (W = 128, 64, 32) in bits 62–63; the start must lie in the first row of an atom.
template <int W> inline uint64_t wgmma_swizzled_descriptor(const void *tile, uint32_t leading_bytes, uint32_t stride_bytes) {
    constexpr uint64_t type = W == 128 ? 1 : W == 64 ? 2 : 3;
    return wgmma_descriptor(tile, leading_bytes, stride_bytes) | type << 62;
}

inline void wgmma_fence() { emu::wgmma_fence(); }
inline void wgmma_commit() { emu::wgmma_commit(); }
template <int pending> inline void wgmma_wait() { emu::wgmma_wait(pending); }
inline void shared_async_fence() { emu::shared_async_fence(); }
template <typename T> inline void shared_store_for_products(T *at, const T &value) {
    *at = value;
    emu::record_shared_store(at, sizeof(T));
}
template <int count> inline void wgmma_fence_operands(float (&)[count]) {}
inline void wgmma_fence_operands(uint64_t &) {}

template <typename scalar> constexpr int is_bfloat() { return sizeof(scalar) == 2 && !__is_same(scalar, __half); }

template <typename scalar, int N> inline void wgmma_ss(float (&d)[N / 2], uint64_t a, uint64_t b, int accumulate) {
    emu::wgmma_issue(emu::wgmma_request{d, N, nullptr, a, b, accumulate, 0, is_bfloat<scalar>()});
}
template <typename scalar, int N>
inline void wgmma_rs_transposed_b(float (&d)[N / 2], const uint32_t a[4], uint64_t b, int accumulate) {
    emu::wgmma_issue(emu::wgmma_request{d, N, a, 0, b, accumulate, 1, is_bfloat<scalar>()});
}

#endif
