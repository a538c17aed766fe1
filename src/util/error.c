// error.c — filling and prefixing the error slot.
#include "memprof/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int error_set(memprof_error *err, int code, const char *format, ...) {
    if (err == NULL) return code;
    va_list args;
    va_start(args, format);
    vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    err->code = code;
    return code;
}

int error_prefix(memprof_error *err, const char *format, ...) {
    if (err == NULL) return MEMPROF_ERR;
    char prefix[512];
    va_list args;
    va_start(args, format);
    vsnprintf(prefix, sizeof prefix, format, args);
    va_end(args);
    char joined[sizeof prefix + sizeof err->message + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->message);
    size_t length = strlen(joined);  // long chains are truncated
    if (length >= sizeof err->message) length = sizeof err->message - 1;
    memcpy(err->message, joined, length);
    err->message[length] = '\0';
    if (err->code == 0) err->code = MEMPROF_ERR;
    return err->code;
}

void error_clear(memprof_error *err) {
    if (err == NULL) return;
    err->code = 0;
    err->message[0] = '\0';
}
