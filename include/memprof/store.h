// store.h — HDF5 files shared between modules (layouts pinned in docs/formats.md):
// stats.h5 (written by sweep and by `memprof simulate`, read by estimate) and effects.h5
// (written by estimate). Serial HDF5 with default property lists; fixed-length strings only.
// Shapes: N instances, C checkpoints, S shards, K cells.
#ifndef MEMPROF_STORE_H
#define MEMPROF_STORE_H

#include <stdint.h>

#include "memprof/error.h"
#include "memprof/estimate.h"

#define STATS_N_METRICS 4
extern const char *const stats_metric_names[STATS_N_METRICS];   // sup_seq, acc_seq, entr_seq, avg_rank

// +1 where larger is more memorised (acc_seq), −1 otherwise; 0 for an unknown metric.
int stats_memorisation_sign(const char *metric);

typedef struct stats_meta {
    int64_t n_instances, n_checkpoints;
    int64_t *seq_idx;      // [N]
    uint8_t *split;        // [N] 0 = trained on, 1 = held out
    int64_t *train_step;   // [N] −1 = never trained on
    int64_t *step;         // [C] checkpoint training steps
    char model[256];       // root attribute "model" ("" when absent)
} stats_meta;

void stats_meta_free(stats_meta *m);

// Reads the instance and checkpoint axes and the model name.
int store_stats_read_meta(stats_meta *out, const char *path, memprof_error *err);

// Reads /stats/<metric> into values [C, N] (caller-allocated).
int store_stats_read_metric(double *values, const char *path, const char *metric, memprof_error *err);

// Creates stats.h5 with every pinned dataset. metrics[j] is [C, N] or NULL (written as NaN);
// paths/checksums may be NULL (empty strings). shard_size sets the /done grid (all done).
int store_stats_write(const char *path, const stats_meta *meta, const double *const metrics[STATS_N_METRICS],
                      int64_t shard_size, const char *backend, memprof_error *err);

// Attributes of an effects.h5 file besides the tables.
typedef struct effects_attrs {
    const char *model, *metric, *control_group, *base_period;
    int64_t anticipation, bootstrap, n_units;
    uint64_t seed;
    double alpha;
    int memorisation_sign;
    const char *cohort_rule;        // "first-checkpoint-after" or "paper"
    const char *missing_checkpoints;// comma-separated steps left out (partial sweeps), "" if none
} effects_attrs;

int store_effects_write(const char *path, const estimate_result *r, const estimate_panel *p, const effects_attrs *a,
                        memprof_error *err);

#endif
