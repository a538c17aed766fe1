// tokenizer_internal.h — the tables shared by tokenizer_load.c, tokenizer_encode.c and
// tokenizer_decode.c. Not a public interface.
#ifndef MEMPROF_TOKENIZER_INTERNAL_H
#define MEMPROF_TOKENIZER_INTERNAL_H

#include <oniguruma.h>
#include <stdbool.h>

#include "memprof/tokenizer.h"

typedef struct added_token {
    char *content;  // UTF-8; NFC-normalised when normalized is true
    size_t length;
    int32_t id;
    bool normalized;  // matched after normalisation (true) or on the raw text (false)
} added_token;

// Added tokens of one kind, indexed by first byte and sorted longest first, so the first
// candidate that matches at a position is the leftmost-longest match.
typedef struct added_token_matcher {
    const added_token **candidates;
    int first[257];  // candidates for byte b are [first[b], first[b+1])
    int count;
} added_token_matcher;

// Open-addressing map (left id, right id) → (rank, merged id). Key 0 marks an empty slot.
typedef struct merge_table {
    uint64_t *keys;
    int32_t *ranks;
    int32_t *results;
    uint64_t mask;
} merge_table;

struct tokenizer {
    int32_t byte_to_id[256];  // id of the byte-level character of each byte; −1 when none
    merge_table merges;
    added_token *added;
    int added_count;
    added_token_matcher raw_matcher;         // normalized == false
    added_token_matcher normalized_matcher;  // normalized == true
    // Decoding: the bytes each id stands for.
    char **id_bytes;
    uint32_t *id_bytes_length;
    int vocab_size;
    regex_t *pretokenizer;  // the GPT-2 pattern; onig_search is reentrant on a shared regex
    char sha256[65];
};

static inline uint64_t merge_key(int32_t left, int32_t right) {
    return ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1u;
}

static inline uint64_t merge_slot(uint64_t key, uint64_t mask) {
    return (key * 0x9E3779B97F4A7C15ull >> 17) & mask;
}

// Index of the merge of (left, right), or −1.
static inline int64_t merge_find(const merge_table *table, int32_t left, int32_t right) {
    uint64_t key = merge_key(left, right);
    for (uint64_t slot = merge_slot(key, table->mask);; slot = (slot + 1) & table->mask) {
        if (table->keys[slot] == key) return (int64_t)slot;
        if (table->keys[slot] == 0) return -1;
    }
}

// GPT-2's bytes_to_unicode: the code point standing for each byte.
uint32_t byte_level_char(uint8_t byte);

// The longest added token of matcher that matches at text[0..length), or NULL.
const added_token *added_token_match(const added_token_matcher *matcher, const char *text, size_t length);

// NFC with HF tokenizers' Unicode 9.0 tables (nfc.c); *out_text is malloc'ed.
int nfc_normalize(char **out_text, size_t *out_length, const char *text, size_t length, memprof_error *err);

#endif
