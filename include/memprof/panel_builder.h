// panel_builder.h — filling a panel (panel.h) from the sources researchers have:
// training rows from the preshuffled Pile's .bin shards, held-out rows from validation
// text (JSON lines, .jsonl.zst) or pre-tokenised idx/bin, and a seeded synthetic panel.
//
// Preshuffled Pile: sample i = tokens [L·i, L·(i+1)) of the shards' concatenation (no EOD
// tokens), train_step = ⌊i / batch_size⌋. Validation: documents tokenised and
// concatenated with no separator, cut into L-token windows (remainder dropped); window w
// becomes seq_idx = −100 − w, split = 1, train_step = −1.
#ifndef MEMPROF_PANEL_BUILDER_H
#define MEMPROF_PANEL_BUILDER_H

#include <stdint.h>

#include "memprof/error.h"
#include "memprof/progress.h"
#include "memprof/indexed_dataset.h"
#include "memprof/panel.h"
#include "memprof/tokenizer.h"

// A growable token stream (uint16: every GPT-NeoX id fits).
typedef struct token_stream {
    uint16_t *tokens;
    int64_t count, capacity;
    int64_t documents;
    uint64_t source_bytes;  // bytes read from the sources (compressed size for .zst)
} token_stream;

void token_stream_free(token_stream *stream);

// Rows [first_row, first_row + n) ← samples indices[0..n) of the store. Token ids ≥
// vocab_size are errors naming the sample. *out_special_tokens counts ids 0 and 1
// (<|endoftext|>, <|padding|>), which Pythia's training data should not contain (a data
// sanity check the caller reports).
// progress (may be NULL) hears about every row.
int panel_fill_training(panel *p, int64_t *out_special_tokens, int64_t first_row, const int64_t *indices, int64_t n,
                        const token_store *store, int64_t batch_size, int64_t vocab_size,
                        const progress_reporter *progress, memprof_error *err);

// Appends the tokens of every "text" of a JSON-lines file (plain or .zst), in order.
// threads ≥ 1 encode batches of lines in parallel; the result does not depend on it.
// progress (may be NULL) hears the documents done after every batch of lines.
int token_stream_append_jsonl(token_stream *out, const char *path, const tokenizer *tok, int threads,
                              const progress_reporter *progress, memprof_error *err);
// Appends every item of a pre-tokenised dataset, in order.
int token_stream_append_indexed(token_stream *out, const indexed_dataset *dataset, memprof_error *err);

// Rows [first_row, first_row + n) ← windows[0..n) of the stream (window w = tokens
// [L·w, L·(w+1))), as held-out rows.
int panel_fill_heldout(panel *p, int64_t first_row, const token_stream *stream, const int64_t *windows, int64_t n,
                       int64_t vocab_size, memprof_error *err);

typedef struct synthetic_config {
    uint32_t seed;
    int64_t train_rows;     // drawn from steps [0, steps)
    int64_t heldout_rows;
    int64_t sequence_length;
    int64_t vocab_size;     // tokens in [2, vocab_size)
    int64_t steps;          // training steps covered (train_step < steps)
    int64_t batch_size;     // sequences per step (1024)
} synthetic_config;

synthetic_config synthetic_defaults(void);
// A seeded panel: train_rows training rows with distinct seq_idx spread evenly over the
// steps (sorted), then heldout_rows held-out rows (seq_idx −100 − w).
int panel_synthetic(panel *out, const synthetic_config *config, memprof_error *err);

#endif
