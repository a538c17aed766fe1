// panel.h — panel.h5, the instances a sweep scores (layout pinned in docs/formats.md):
//   /tokens      uint16 [N, L]  token ids, L = 2049 for Pythia (chunked by rows)
//   /seq_idx     int64  [N]     training: index in the preshuffled Pile (≥ 0);
//                               held out: −100 − window index
//   /split       uint8  [N]     0 = training data, 1 = held out (never treated)
//   /train_step  int64  [N]     step that consumed the sequence (⌊seq_idx / 1024⌋); −1 if never
// Root attributes: format = "memprof-panel", format_version = 1, memprof_version, plus
// provenance (sources and sizes, seeds, tokenizer sha256) as fixed-length strings and int64s.
#ifndef MEMPROF_PANEL_H
#define MEMPROF_PANEL_H

#include <stdint.h>

#include "memprof/error.h"

#define PANEL_FORMAT "memprof-panel"
#define PANEL_FORMAT_VERSION 1
#define PANEL_SPLIT_TRAIN 0
#define PANEL_SPLIT_HELDOUT 1
#define PANEL_MAX_ATTRIBUTES 32

typedef struct panel_attribute {
    char name[64];
    char *text;       // a string attribute when non-NULL (owned)
    int64_t integer;  // otherwise an int64 attribute
} panel_attribute;

typedef struct panel {
    int64_t rows;            // N
    int64_t sequence_length; // L
    uint16_t *tokens;        // [N, L]
    int64_t *seq_idx;        // [N]
    uint8_t *split;          // [N]
    int64_t *train_step;     // [N]
    panel_attribute attributes[PANEL_MAX_ATTRIBUTES];  // provenance beyond the format attributes
    int n_attributes;
} panel;

// Allocates the arrays for rows × sequence_length (zeroed).
int panel_alloc(panel *out, int64_t rows, int64_t sequence_length, memprof_error *err);
void panel_free(panel *p);
int panel_set_text(panel *p, const char *name, const char *value, memprof_error *err);
int panel_set_integer(panel *p, const char *name, int64_t value, memprof_error *err);

// Writes path + ".tmp" then renames it to path, so a failed run never leaves a complete-
// looking panel.h5. Serial HDF5 with default property lists.
int panel_write(const panel *p, const char *path, memprof_error *err);
// Reads a panel.h5 (checks format and format_version); attributes other than the format
// ones are read back when they are strings or int64 scalars.
int panel_read(panel *out, const char *path, memprof_error *err);

#endif
