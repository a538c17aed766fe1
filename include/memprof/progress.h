// progress.h — how long-running library work (tokenising a corpus, reading the Pile sample,
// bootstrap draws) tells its caller how far it is, without printing: the command line
// passes a reporter that draws a live line on a terminal or writes periodic log lines.
#ifndef MEMPROF_PROGRESS_H
#define MEMPROF_PROGRESS_H

typedef struct progress_reporter {
    // done of total units of `what` (total ≤ 0: unknown); called from one thread at a time.
    void (*update)(void *context, const char *what, double done, double total, const char *unit);
    void *context;
} progress_reporter;

static inline void progress_report(const progress_reporter *reporter, const char *what, double done, double total,
                                   const char *unit) {
    if (reporter && reporter->update) reporter->update(reporter->context, what, done, total, unit);
}

#endif
