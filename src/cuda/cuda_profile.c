// cuda_profile.c — MEMPROF_CUDA_PROFILE=1: where the forward pass spends its GPU time, by step.
// An event is recorded after every step; the time between consecutive events is charged to
// the step that ended there. Events are read back when the batch ends (or when the pool is
// full), so the profile adds no synchronisation inside a batch, only at its end. The first
// batch after a load is not counted: lazy module loading and the GEMM algorithm choice land
// there, and would be charged to whichever step ran first.
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "memprof/log.h"

int cuda_profile_enabled(void) {
    static int cached = -1;
    if (cached < 0) {
        const char *value = getenv("MEMPROF_CUDA_PROFILE");
        cached = value != NULL && *value != '\0' && strcmp(value, "0") != 0;
    }
    return cached;
}

static int step_index(cuda_profile *p, const char *name) {
    for (int i = 0; i < p->steps; i++)
        if (strcmp(p->names[i], name) == 0) return i;
    if (p->steps == CUDA_PROFILE_STEPS) return CUDA_PROFILE_STEPS - 1;  // the last slot takes the rest
    p->names[p->steps] = name;
    return p->steps++;
}

// Reads the pending events back into the totals; the last event becomes the next interval's start.
static void profile_flush(cuda_profile *p) {
    if (p->pending < 2) return;
    cudaEventSynchronize((cudaEvent_t)p->events[p->pending - 1]);
    for (int i = 1; i < p->pending; i++) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms, (cudaEvent_t)p->events[i - 1], (cudaEvent_t)p->events[i]) == cudaSuccess) {
            p->milliseconds[p->step_of[i]] += ms;
            p->calls[p->step_of[i]]++;
        }
    }
    void *last = p->events[p->pending - 1];
    p->events[p->pending - 1] = p->events[0];
    p->events[0] = last;
    p->pending = 1;
}

void cuda_profile_mark(cuda_profile *p, void *stream, const char *step) {
    if (!cuda_profile_enabled()) return;
    if (p->pending == CUDA_PROFILE_EVENTS) profile_flush(p);
    if (p->events[p->pending] == NULL && cudaEventCreate((cudaEvent_t *)&p->events[p->pending]) != cudaSuccess) return;
    cudaEventRecord((cudaEvent_t)p->events[p->pending], (cudaStream_t)stream);
    p->step_of[p->pending] = step ? step_index(p, step) : 0;
    p->pending++;
}

void cuda_profile_end_batch(cuda_profile *p) {
    if (!cuda_profile_enabled()) return;
    profile_flush(p);
    p->pending = 0;  // the next batch starts with a fresh mark (host work lies between)
    if (p->batches++ == 0) {
        memset(p->milliseconds, 0, sizeof p->milliseconds);
        memset(p->calls, 0, sizeof p->calls);
    }
}

void cuda_profile_report(const cuda_profile *p, const char *model_name) {
    double total = 0;
    for (int i = 0; i < p->steps; i++) total += p->milliseconds[i];
    if (total <= 0) return;
    // Asked for with MEMPROF_CUDA_PROFILE=1, so written at the level a default run shows.
    log_warn("cuda profile (%s): %.1f ms of GPU time in %lld forward batch(es) after the first", model_name, total,
             (long long)(p->batches - 1));
    for (int i = 0; i < p->steps; i++)
        log_warn("  %-16s %9.2f ms  %5.1f%%  %lld calls", p->names[i], p->milliseconds[i],
                 100.0 * p->milliseconds[i] / total, (long long)p->calls[i]);
}

void cuda_profile_free(cuda_profile *p) {
    for (int i = 0; i < CUDA_PROFILE_EVENTS; i++)
        if (p->events[i]) cudaEventDestroy((cudaEvent_t)p->events[i]);
    memset(p, 0, sizeof *p);
}
