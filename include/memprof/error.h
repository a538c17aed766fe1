// error.h — the error slot every fallible function fills.
//
// Convention: a function returns 0 on success and a negative status on failure,
// after writing one line of context into the caller's memprof_error (file, field,
// line, tensor...). Only main prints it. Messages read "<where>: <what went wrong>".
#ifndef MEMPROF_ERROR_H
#define MEMPROF_ERROR_H

#include <stddef.h>

enum {
    MEMPROF_OK = 0,
    MEMPROF_ERR = -1,          // bad input or a failed operation; message says which
    MEMPROF_ERR_NOMEM = -2,    // allocation failure
    MEMPROF_ERR_UNSUPPORTED = -3, // valid input we deliberately do not handle
};

typedef struct memprof_error {
    int code;
    char message[1024];
} memprof_error;

// Fills err (when non-NULL) with a printf-style message and returns code.
int error_set(memprof_error *err, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

// Prepends "prefix: " to an existing message (adds context on the way up) and returns err->code.
int error_prefix(memprof_error *err, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

void error_clear(memprof_error *err);

#endif
