// progress_printer.c — live progress line on a terminal, periodic log lines otherwise.
#include "cli/progress_printer.h"

#include "memprof/clock.h"
#include <unistd.h>

static void printer_update(void *context, const char *what, double done, double total, const char *unit) {
    progress_printer *p = context;
    double now = clock_seconds(), elapsed = now - p->started;
    double interval = p->terminal ? 0.2 : 10.0;
    int finished = total > 0 && done >= total;
    if (now - p->last < interval && !(finished && p->terminal)) return;
    p->last = now;
    char line[256];
    if (total > 0) {
        double rate = elapsed > 0 ? done / elapsed : 0, eta = rate > 0 ? (total - done) / rate : 0;
        snprintf(line, sizeof line, "%s: %.0f/%.0f %s (%.0f%%), %.0f s elapsed, ETA %.0f s", what, done, total, unit,
                 100.0 * done / total, elapsed, eta);
    } else {
        snprintf(line, sizeof line, "%s: %.0f %s, %.0f s elapsed", what, done, unit, elapsed);
    }
    if (p->terminal) {
        fprintf(p->stream, "\r%-100s", line);
        p->drawn = 1;
    } else {
        fprintf(p->stream, "%s\n", line);
    }
    fflush(p->stream);
}

void progress_printer_init(progress_printer *printer, progress_reporter *reporter, FILE *stream) {
    printer->stream = stream;
    printer->terminal = isatty(fileno(stream));
    printer->started = printer->last = clock_seconds();
    printer->drawn = 0;
    reporter->update = printer_update;
    reporter->context = printer;
}

void progress_printer_finish(progress_printer *printer) {
    if (printer->drawn) fputc('\n', printer->stream);
    printer->drawn = 0;
}
