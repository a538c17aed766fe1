// progress_printer.h — the command line's progress reporter: on a terminal a live line on
// stderr (redrawn at most 5 times a second), otherwise a log line every 10 seconds.
#ifndef MEMPROF_CLI_PROGRESS_PRINTER_H
#define MEMPROF_CLI_PROGRESS_PRINTER_H

#include <stdio.h>

#include "memprof/progress.h"

typedef struct progress_printer {
    FILE *stream;
    int terminal;
    double started, last;
    int drawn;  // a live line is on screen and needs a newline before other output
} progress_printer;

// Fills reporter so that library code reports to printer.
void progress_printer_init(progress_printer *printer, progress_reporter *reporter, FILE *stream);
// Ends a live line (call before printing anything else).
void progress_printer_finish(progress_printer *printer);

#endif
