// aggregate.h — aggregated parameters (simple, cohort, time, event) as lincombs of cells.
// Shapes: params [n_keyed + 1]; the last one is the overall parameter (simple: the only one).
#ifndef MEMPROF_ESTIMATE_AGGREGATE_H
#define MEMPROF_ESTIMATE_AGGREGATE_H

#include "estimate/internal.h"

typedef struct agg_def {
    int64_t n_keyed;
    int64_t *keys;      // [n_keyed]
    lincomb *params;    // [n_keyed + 1]
} agg_def;

int aggregate_build(agg_def *defs, const estimate_panel *p, const cell *cells, const double *att, int64_t K,
                    const estimate_options *opt, memprof_error *err);
void agg_defs_free(agg_def *defs);

// Cells of the estimator (cells.c): returns K or a negative error.
int64_t cells_build(cell **out, double **att, double **se, const estimate_panel *p, const estimate_options *opt,
                    memprof_error *err);

#endif
