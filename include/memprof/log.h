// log.h — the one global: a leveled logger writing to stderr (or a file per rank).
#ifndef MEMPROF_LOG_H
#define MEMPROF_LOG_H

#include <stdio.h>

typedef enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_WARN = 2, LOG_LEVEL_ERROR = 3, LOG_LEVEL_QUIET = 4 } log_level;

void log_set_level(log_level level);
log_level log_get_level(void);
// Sends log lines to stream (default stderr); the logger does not own it.
void log_set_stream(FILE *stream);
void log_message(log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_message(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_message(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_message(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_message(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
