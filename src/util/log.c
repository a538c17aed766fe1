// log.c — timestamped log lines; the project's only mutable global state.
#include "memprof/log.h"

#include <stdarg.h>
#include <time.h>

static struct {
    log_level level;
    FILE *stream;
} logger = {LOG_LEVEL_WARN, NULL};

void log_set_level(log_level level) { logger.level = level; }
log_level log_get_level(void) { return logger.level; }
void log_set_stream(FILE *stream) { logger.stream = stream; }

void log_message(log_level level, const char *format, ...) {
    if (level < logger.level) return;
    FILE *out = logger.stream ? logger.stream : stderr;
    static const char *names[] = {"debug", "info", "warn", "error"};
    time_t now = time(NULL);
    struct tm parts;
    gmtime_r(&now, &parts);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &parts);
    fprintf(out, "%s %s: ", stamp, names[level < 4 ? level : 3]);
    va_list args;
    va_start(args, format);
    vfprintf(out, format, args);
    va_end(args);
    fputc('\n', out);
    fflush(out);
}
