// cuda_barrier.cuh — the synchronisation of warp-specialised kernels (sm_90a), where a block's
// warpgroups play different roles and so cannot meet at __syncthreads():
//   - mbarriers (an 8-byte object in shared memory): initialised with an arrival count; a
//     phase completes when that many arrivals have come, then the next phase begins with the
//     same count. mbarrier_wait(bar, parity) returns once the phase of that parity has
//     completed: with φ the number of completed phases, it waits while φ % 2 == parity, so a
//     waiter that counts its rounds r = 0, 1, … passes parity r % 2 for the (r+1)-th phase,
//     and a producer's first wait on an "empty" barrier passes parity 1 (nothing to wait for).
//   - named barriers 1–15 (bar.sync / bar.arrive with a thread count): bar.sync arrives and
//     waits until `count` threads have arrived at that id; bar.arrive only arrives. Id 0 is
//     __syncthreads()'s.
//   - setmaxnreg: a warpgroup hands registers back to the SM (decrease) or takes them (increase;
//     it waits until they are free), so a copying warpgroup can run on few registers and the
//     computing ones on many.
// The CPU emulator (tests/emulator/cuda/cuda_barrier.cuh) implements the same functions.
#ifndef MEMPROF_CUDA_BARRIER_CUH
#define MEMPROF_CUDA_BARRIER_CUH

#include <stdint.h>

#include "cuda/cuda_wgmma.cuh"

__device__ __forceinline__ void mbarrier_init(uint64_t *barrier, unsigned count) {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(barrier)), "r"(count) : "memory");
#endif
}
// One arrival, with release semantics: this thread's earlier writes are visible to a thread
// whose wait returns on the phase this arrival completes.
__device__ __forceinline__ void mbarrier_arrive(uint64_t *barrier) {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(shared_address(barrier)) : "memory");
#endif
}
__device__ __forceinline__ void mbarrier_wait(uint64_t *barrier, unsigned parity) {
#ifdef MEMPROF_WGMMA_DEVICE
    uint32_t done = 0;
    do {
        asm volatile("{\n.reg .pred complete;\n"
                     "mbarrier.try_wait.parity.shared::cta.b64 complete, [%1], %2;\n"
                     "selp.u32 %0, 1, 0, complete;\n}\n"
                     : "=r"(done)
                     : "r"(shared_address(barrier)), "r"(parity)
                     : "memory");
    } while (!done);
#endif
}
template <int count> __device__ __forceinline__ void named_barrier_sync(int id) {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "n"(count) : "memory");
#endif
}
template <int count> __device__ __forceinline__ void named_barrier_arrive(int id) {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "n"(count) : "memory");
#endif
}
template <int registers> __device__ __forceinline__ void register_limit_decrease() {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(registers));
#endif
}
template <int registers> __device__ __forceinline__ void register_limit_increase() {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(registers));
#endif
}

#endif
