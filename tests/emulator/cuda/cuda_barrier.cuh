// cuda_barrier.cuh, emulated — the functions of src/cuda/cuda_barrier.cuh for the CPU emulator,
// from the definitions written there (PTX ISA: mbarrier, bar.sync / bar.arrive, setmaxnreg).
//
// An mbarrier's state (arrival count, arrivals still due in this phase, phases completed) is
// kept beside the block, keyed by its shared-memory offset; a wait yields to the other threads
// until its phase completes. So a consumer that reads a stage before waiting for it, or a
// producer that refills a stage before the consumers released it, shows as wrong results (the
// copies land at the producer's cp.async wait, the products read shared memory at their
// wgmma wait), and a wait that no arrival will ever end is reported as a deadlock; so are an
// mbarrier used before its init, and a block that ends with arrivals at a named barrier that
// no bar.sync took.
#ifndef MEMPROF_CUDA_BARRIER_CUH
#define MEMPROF_CUDA_BARRIER_CUH

#include <stdint.h>

#include "cuda/cuda_wgmma.cuh"

namespace emu {
void mbarrier_init(const void *barrier, unsigned count);
void mbarrier_arrive(const void *barrier);
void mbarrier_wait(const void *barrier, unsigned parity);
// bar.sync (wait = true) or bar.arrive at named barrier `id` (1–15) of `count` threads.
void named_barrier(int id, unsigned count, bool wait);
// setmaxnreg by the calling thread's warpgroup: its new register limit (checked against the
// register file at the block's end).
void register_limit(unsigned registers);
}  // namespace emu

inline void mbarrier_init(uint64_t *barrier, unsigned count) { emu::mbarrier_init(barrier, count); }
inline void mbarrier_arrive(uint64_t *barrier) { emu::mbarrier_arrive(barrier); }
inline void mbarrier_wait(uint64_t *barrier, unsigned parity) { emu::mbarrier_wait(barrier, parity); }
template <int count> inline void named_barrier_sync(int id) { emu::named_barrier(id, count, true); }
template <int count> inline void named_barrier_arrive(int id) { emu::named_barrier(id, count, false); }
template <int registers> inline void register_limit_decrease() {
    static_assert(registers >= 24 && registers <= 256 && registers % 8 == 0, "setmaxnreg: 24 … 256, a multiple of 8");
    emu::register_limit(registers);
}
template <int registers> inline void register_limit_increase() {
    static_assert(registers >= 24 && registers <= 256 && registers % 8 == 0, "setmaxnreg: 24 … 256, a multiple of 8");
    emu::register_limit(registers);
}

#endif
