// line_encoder.h — JSON lines → token ids on N threads, in order.
//
// A batch of lines is parsed ("text" field, UTF-8 checked) and encoded by `threads`
// workers, each with its own tokenizer session; results stay attached to their lines, so
// the output order and content do not depend on the thread count.
#ifndef MEMPROF_LINE_ENCODER_H
#define MEMPROF_LINE_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"
#include "memprof/tokenizer.h"

typedef struct encoded_line {
    char *line;  // input, owned (freed by line_encoder_free_lines)
    size_t length;
    int64_t line_number;
    token_ids ids;  // output
    int status;     // 0, or the failure described in err (no line number in it)
    memprof_error err;
} encoded_line;

typedef struct line_encoder line_encoder;

int line_encoder_create(line_encoder **out, const tokenizer *tok, int threads, memprof_error *err);
void line_encoder_free(line_encoder *encoder);
// Encodes lines[0..count); returns the index of the first failed line, or count.
int line_encoder_run(line_encoder *encoder, encoded_line *lines, int count);
// Copies a line into lines[index] (reusing its buffers).
int encoded_line_set(encoded_line *line, const char *text, size_t length, int64_t line_number, memprof_error *err);
void encoded_lines_free(encoded_line *lines, int count);

#endif
