// test_kernels.h — what the CUDA kernel tests share: a label for where the kernels ran, and
// the inputs' random numbers, the emulated SM count.
#ifndef MEMPROF_TEST_KERNELS_H
#define MEMPROF_TEST_KERNELS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

// The emulated device's SM count for the next launches (0: the H100's 132), so that a
// persistent kernel's blocks each take several tiles of a problem small enough to emulate;
// a GPU keeps its own.
static inline void set_emulated_processors(int processors) {
#ifdef MEMPROF_CUDA_EMULATED
    char count[16];
    snprintf(count, sizeof count, "%d", processors);
    if (processors) setenv("MEMPROF_EMULATED_PROCESSORS", count, 1);
    else unsetenv("MEMPROF_EMULATED_PROCESSORS");
#else
    (void)processors;
#endif
}

#endif
