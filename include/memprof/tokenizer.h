// tokenizer.h — the GPT-NeoX-20B tokenizer (HF tokenizers' BPE + ByteLevel), exactly.
//
// Pipeline per text (HF tokenizers 0.23 semantics):
//   1. split on added tokens with normalized=false (<|endoftext|>, <|padding|>),
//      leftmost-longest; matches become their ids;
//   2. NFC-normalise each other piece (utf8proc);
//   3. split on added tokens with normalized=true (the 23 runs of 2–24 spaces);
//   4. pre-tokenise with the GPT-2 regex on Oniguruma, the engine HF uses;
//   5. map bytes to GPT-2's byte-level characters and run BPE by merge rank
//      (lowest rank first, ties by lowest position), with a per-session cache.
// A `tokenizer` is immutable after loading and shared by threads; each thread encodes
// through its own `tokenizer_session` (match region, cache, scratch buffers).
#ifndef MEMPROF_TOKENIZER_H
#define MEMPROF_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"

typedef struct tokenizer tokenizer;
typedef struct tokenizer_session tokenizer_session;

// A growable list of token ids; start from {0} and free ids when done.
typedef struct token_ids {
    int32_t *ids;
    int64_t count;
    int64_t capacity;
} token_ids;

// Loads a HF tokenizer.json. Only the shape Pythia uses is accepted (BPE model, NFC
// normaliser, ByteLevel pre-tokeniser without prefix space, added tokens without
// lstrip/rstrip/single_word); anything else is MEMPROF_ERR_UNSUPPORTED.
int tokenizer_load(tokenizer **out, const char *path, memprof_error *err);
void tokenizer_free(tokenizer *tok);
// Number of ids (largest id + 1): 50,277 for GPT-NeoX-20B.
int tokenizer_vocab_size(const tokenizer *tok);
// Lower-case hex sha256 of the tokenizer file's bytes (for provenance).
const char *tokenizer_sha256(const tokenizer *tok);

int tokenizer_session_create(tokenizer_session **out, const tokenizer *tok, memprof_error *err);
void tokenizer_session_free(tokenizer_session *session);

// Appends the ids of text[0..length) to out. The text must be valid UTF-8 (checked).
int tokenizer_encode(token_ids *out, tokenizer_session *session, const char *text, size_t length,
                     memprof_error *err);

// The bytes of ids concatenated (added tokens as their content). *out_text is malloc'ed
// and NUL-terminated; the bytes need not be valid UTF-8 for a partial sequence.
int tokenizer_decode(char **out_text, size_t *out_length, const tokenizer *tok, const int32_t *ids, int64_t count,
                     memprof_error *err);

// Appends one id, growing the list.
int token_ids_push(token_ids *list, int32_t id, memprof_error *err);
void token_ids_free(token_ids *list);

// Length of the longest valid UTF-8 prefix of text (== length when all valid). Rejects
// overlongs, surrogates and code points above U+10FFFF, as Rust's str does.
size_t utf8_valid_prefix(const char *text, size_t length);

#endif
