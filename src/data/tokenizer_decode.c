// tokenizer_decode.c — ids → bytes, for debugging and round-trip tests.
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

int tokenizer_decode(char **out_text, size_t *out_length, const tokenizer *tok, const int32_t *ids, int64_t count,
                     memprof_error *err) {
    *out_text = NULL;
    *out_length = 0;
    size_t total = 0;
    for (int64_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= tok->vocab_size || !tok->id_bytes[ids[i]])
            return error_set(err, MEMPROF_ERR, "decode: id %d at position %lld is not in the vocabulary", ids[i],
                             (long long)i);
        total += tok->id_bytes_length[ids[i]];
    }
    char *text = malloc(total + 1);
    if (!text) return error_set(err, MEMPROF_ERR_NOMEM, "decode: out of memory");
    size_t used = 0;
    for (int64_t i = 0; i < count; i++) {
        memcpy(text + used, tok->id_bytes[ids[i]], tok->id_bytes_length[ids[i]]);
        used += tok->id_bytes_length[ids[i]];
    }
    text[used] = '\0';
    *out_text = text;
    *out_length = used;
    return MEMPROF_OK;
}
