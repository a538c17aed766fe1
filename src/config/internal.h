// internal.h — what the config module's files share and nothing outside uses.
#ifndef MEMPROF_CONFIG_INTERNAL_H
#define MEMPROF_CONFIG_INTERNAL_H

#include <stddef.h>
#include <yaml.h>

#include "memprof/config.h"

// Result of parsing a value node: set, or explicitly null (the key stays unset).
enum { CONFIG_VALUE_SET = 0, CONFIG_VALUE_NULL = 1, CONFIG_VALUE_BAD = -1 };

// Parses node (a scalar, or for steps a sequence of scalars) into a fresh value for field
// and stores it in config, freeing any value it replaces. On CONFIG_VALUE_BAD, why holds the
// reason ("expected an integer ≥ 1, got 'x'") and *bad_mark the position to report.
int config_parse_node(void *config, const config_field *field, yaml_document_t *doc,
                      yaml_node_t *node, yaml_mark_t *bad_mark, char *why, size_t why_size);

// A plain ~, null, Null, NULL or empty scalar.
bool config_node_is_null(const yaml_node_t *node);

// Decodes one UTF-8 character at s into *codepoint; returns its length, or 0 when the
// bytes are not valid UTF-8 (truncated, overlong, surrogate, above U+10FFFF).
int config_utf8_decode(const unsigned char *s, uint32_t *codepoint);

// The candidate closest to word by edit distance (first on ties); NULL when none.
const char *config_nearest(const char *word, const char *const *candidates, size_t count);

// Parses a whole decimal integer (optional sign, surrounding blanks allowed); 0 or -1.
int config_parse_int64_text(const char *text, int64_t *out);

// Appends every comma-separated item of text ("0, 1000:143000:1000") to a step array.
int config_steps_append_list(int64_t **steps, size_t *count, size_t *cap, const char *text,
                             char *why, size_t why_size);

// The value slot of field inside config.
static inline void *config_slot(void *config, const config_field *field) {
    return (char *)config + field->offset;
}

#endif
