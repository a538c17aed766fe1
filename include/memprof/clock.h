// clock.h — wall-clock seconds for timings and progress (CLOCK_MONOTONIC: never jumps back).
#ifndef MEMPROF_CLOCK_H
#define MEMPROF_CLOCK_H

double clock_seconds(void);

#endif
