// cuda_tma.cuh — device side of the tensor memory accelerator (sm_90a; the map:
// cuda_tensor_map.h): one thread asks for a whole box, the copy engine writes it into shared
// memory (swizzled as the map says) and counts its bytes on an mbarrier
// ("complete_tx"), whose phase completes once its arrivals have come and the bytes it
// expects (mbarrier_arrive_expect_bytes) have landed. The writes are the async proxy's, as
// wgmma's reads are: no proxy fence between them. The CPU emulator
// (tests/emulator/cuda/cuda_tma.cuh) implements the same functions.
#ifndef MEMPROF_CUDA_TMA_CUH
#define MEMPROF_CUDA_TMA_CUH

#include <cuda.h>
#include <stdint.h>

#include "cuda/cuda_barrier.cuh"

// One arrival that also raises the bytes this phase waits for.
__device__ __forceinline__ void mbarrier_arrive_expect_bytes(uint64_t *barrier, uint32_t bytes) {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(shared_address(barrier)), "r"(bytes)
                 : "memory");
#endif
}
// The box at (column, row) of map into destination (aligned to the swizzle's 8-row atom),
// its bytes counted on barrier.
__device__ __forceinline__ void tma_load_2d(void *destination, const CUtensorMap *map, int column, int row,
                                            uint64_t *barrier) {
#ifdef MEMPROF_WGMMA_DEVICE
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                 ::"r"(shared_address(destination)), "l"((uint64_t)map), "r"(column), "r"(row),
                 "r"(shared_address(barrier))
                 : "memory");
#endif
}

#endif
