// signals.c — USR2 and TERM ask the sweep to drain (stop dispatching, abandon in-flight work,
// flush the journal, close the file). The flag is the only state a handler may touch.
#include "sweep/signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t drain_signal = 0;

static void on_signal(int signo) { drain_signal = signo; }

void sweep_signals_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR2, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
}

int sweep_signal_received(void) { return (int)drain_signal; }
