// fuzz_tokenizer.c — encode arbitrary bytes with the GPT-NeoX tokenizer: invalid UTF-8
// must be rejected; valid text must encode, every id must be in the vocabulary, and
// decode(encode(x)) must equal x whenever x is ASCII (NFC-stable).
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/tokenizer.h"

static tokenizer *shared_tokenizer;
static tokenizer_session *shared_session;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    memprof_error err;
    if (!shared_tokenizer) {
        const char *path = getenv("MEMPROF_TOKENIZER");
        if (tokenizer_load(&shared_tokenizer, path ? path : "data/gpt-neox-20b-tokenizer.json", &err) != 0) abort();
        if (tokenizer_session_create(&shared_session, shared_tokenizer, &err) != 0) abort();
    }
    token_ids ids = {0};
    const char *text = (const char *)data;
    int status = tokenizer_encode(&ids, shared_session, text, size, &err);
    bool valid = utf8_valid_prefix(text, size) == size;
    if (valid != (status == 0)) __builtin_trap();
    if (status == 0) {
        bool ascii = true;
        for (size_t i = 0; i < size; i++) ascii &= data[i] < 0x80;
        for (int64_t i = 0; i < ids.count; i++)
            if (ids.ids[i] < 0 || ids.ids[i] >= tokenizer_vocab_size(shared_tokenizer)) __builtin_trap();
        char *decoded;
        size_t length;
        if (tokenizer_decode(&decoded, &length, shared_tokenizer, ids.ids, ids.count, &err) != 0) __builtin_trap();
        if (ascii && (length != size || memcmp(decoded, data, size) != 0)) __builtin_trap();
        free(decoded);
    }
    token_ids_free(&ids);
    return 0;
}
