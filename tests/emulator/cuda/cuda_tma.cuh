// cuda_tma.cuh, emulated — the functions of src/cuda/cuda_tma.cuh for the CPU emulator: a box
// copy lands at once, swizzled as the map says (the emulated encoder's map:
// cuda_runtime_emulated.cc), rows and columns past the tensor's end as zeros; its writes are
// ordered, for the emulator's ordering check, as a release on the mbarrier (consumers that
// waited for the phase see them), and its bytes are counted there.
#ifndef MEMPROF_CUDA_TMA_CUH
#define MEMPROF_CUDA_TMA_CUH

#include <cuda.h>
#include <stdint.h>

#include "cuda/cuda_barrier.cuh"

namespace emu {
void mbarrier_arrive_expect_bytes(const void *barrier, uint32_t bytes);
void tma_load_2d(void *destination, const CUtensorMap *map, int column, int row, const void *barrier);
}  // namespace emu

inline void mbarrier_arrive_expect_bytes(uint64_t *barrier, uint32_t bytes) {
    emu::mbarrier_arrive_expect_bytes(barrier, bytes);
}
inline void tma_load_2d(void *destination, const CUtensorMap *map, int column, int row, uint64_t *barrier) {
    emu::tma_load_2d(destination, map, column, row, barrier);
}

#endif
