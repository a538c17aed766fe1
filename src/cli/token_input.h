// token_input.h — the token sequences `memprof score` reads: a text file (one sequence per
// line, space-separated ids, named by 1-based line number) or a .safetensors file of integer
// `input_ids` / `<name>.input_ids` tensors (1-D: sequence <name>; 2-D [N, T]: <name>[i]).
#ifndef MEMPROF_CLI_TOKEN_INPUT_H
#define MEMPROF_CLI_TOKEN_INPUT_H

#include "memprof/backend.h"
#include "memprof/error.h"

typedef struct token_input {
    int count;
    token_sequence *sequences;  // [count]; tokens owned here
    char **names;               // [count]
} token_input;

int token_input_load(token_input *out, const char *path, memprof_error *err);
// Every sequence has ≥ 2 tokens and ids in [0, vocab_size); errors name sequence and position.
int token_input_validate(const token_input *input, const char *path, int vocab_size, memprof_error *err);
void token_input_free(token_input *input);

#endif
