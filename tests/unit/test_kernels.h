// test_kernels.h — what the CUDA kernel tests share: a label for where the kernels ran, and
// the inputs' random numbers.
#ifndef MEMPROF_TEST_KERNELS_H
#define MEMPROF_TEST_KERNELS_H

#include <stdint.h>

// Built against tests/emulator (the kernels' source on the CPU emulator) or a GPU.
#ifdef MEMPROF_CUDA_EMULATED
#define WHERE "emulated "
#else
#define WHERE ""
#endif

// A 64-bit LCG (Knuth's MMIX constants); the high 31 bits of the state.
static inline uint64_t next_random(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

#endif
