// backend_registry.c — maps a backend name to the implementations compiled in.
#include <string.h>

#include "memprof/backend.h"

int backend_check_sequences(int64_t *out_max_length, const token_sequence *sequences, int num_sequences,
                            int vocab_size, memprof_error *err) {
    int64_t max_length = 0;
    for (int i = 0; i < num_sequences; i++) {
        const token_sequence *s = &sequences[i];
        if (s->length < 2)
            return error_set(err, MEMPROF_ERR, "sequence %d: %lld tokens, at least 2 are needed", i, (long long)s->length);
        for (int64_t t = 0; t < s->length; t++)
            if (s->tokens[t] < 0 || s->tokens[t] >= vocab_size)
                return error_set(err, MEMPROF_ERR, "sequence %d, position %lld: token id %d is outside the vocabulary [0, %d)",
                                 i, (long long)t, s->tokens[t], vocab_size);
        if (s->length > max_length) max_length = s->length;
    }
    *out_max_length = max_length;
    return 0;
}

const backend *backend_find(const char *name) {
    if (strcmp(name, "cpu") == 0) return cpu_backend();
#ifdef MEMPROF_CUDA
    if (strcmp(name, "cuda") == 0) return cuda_backend();
#endif
    return NULL;
}
