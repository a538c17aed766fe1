// signals.h — the drain request flag (USR2, TERM, INT).
#ifndef MEMPROF_SWEEP_SIGNALS_H
#define MEMPROF_SWEEP_SIGNALS_H

void sweep_signals_install(void);
// The signal number that asked for a drain, or 0.
int sweep_signal_received(void);

#endif
