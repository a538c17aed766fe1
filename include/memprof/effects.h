// effects.h — reading effects.h5 (store module, reader side; the writer is in store.h).
// Layout pinned in docs/formats.md:
//   /attgt/{cohort,base_period,time} int64 [K], /attgt/{att,se,lower,upper} float64 [K],
//   /attgt/significant uint8 [K], /agg/{simple,cohort,time,event}/{key,att,se,lower,upper,
//   significant} [R] (R rows, the overall row included; /agg/*/is_overall marks it, else the
//   last row is taken as the overall one). Effects are raw; memorisation = sign × ATT.
// Kept apart from store.h so the reader and the estimator's writer can change independently.
#ifndef MEMPROF_EFFECTS_H
#define MEMPROF_EFFECTS_H

#include <stdint.h>

#include "memprof/error.h"

enum { EFFECTS_AGG_SIMPLE, EFFECTS_AGG_COHORT, EFFECTS_AGG_TIME, EFFECTS_AGG_EVENT, EFFECTS_AGG_COUNT };
extern const char *const effects_agg_names[EFFECTS_AGG_COUNT];  // simple, cohort, time, event

typedef struct effects_agg {
    int64_t n;              // rows, the overall row included
    int64_t *key;           // [n] cohort step, time step or relative period (steps); 0 on the overall row
    double *att, *se, *lower, *upper;  // [n]
    uint8_t *significant;   // [n]
    uint8_t *is_overall;    // [n]
} effects_agg;

typedef struct effects_file {
    char path[512];
    char model[256], metric[64], control_group[64], base_period_rule[64];
    int64_t anticipation, bootstrap, n_units, seed;
    double alpha, critical_value;
    int memorisation_sign;  // −1 (lower is more memorised) or +1
    int64_t K;
    int64_t *cohort, *base_period, *time;  // [K]
    double *att, *se, *lower, *upper;      // [K]
    uint8_t *significant;                  // [K]
    effects_agg agg[EFFECTS_AGG_COUNT];
} effects_file;

// Reads a whole effects.h5. Errors name the file and the dataset or attribute at fault.
// On failure *out holds nothing to free.
int effects_read(effects_file *out, const char *path, memprof_error *err);
void effects_free(effects_file *f);

#endif
