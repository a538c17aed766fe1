// backend_registry.c — maps a backend name to the implementations compiled in.
#include <string.h>

#include "memprof/backend.h"

const backend *backend_find(const char *name) {
    if (strcmp(name, "cpu") == 0) return cpu_backend();
#ifdef MEMPROF_CUDA
    if (strcmp(name, "cuda") == 0) return cuda_backend();
#endif
    return NULL;
}
