// stats_parallel.h — stats.h5 written by many MPI ranks at once (layout pinned in
// docs/formats.md, "stats.h5"). Shapes: N instances, C checkpoints, S = ceil(N / shard) shards.
//
// Crash-safety rule: every object is created collectively at start and the
// file is flushed; afterwards ranks only write raw data independently into pre-allocated,
// contiguous, unfiltered datasets. A kill -9 at any point then leaves a file that opens, and
// cells not yet written still read NaN. Close is collective.
#ifndef MEMPROF_STATS_PARALLEL_H
#define MEMPROF_STATS_PARALLEL_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "memprof/error.h"
#include "memprof/store.h"

#define STATS_FORMAT "memprof-stats"
#define STATS_FORMAT_VERSION 1
#define STATS_PATH_WIDTH 1024     // fixed string width of /checkpoints/path
#define STATS_CHECKSUM_WIDTH 32   // fixed string width of /checkpoints/checksum

// Everything a new file records; identical on every rank (collective create).
typedef struct stats_layout {
    int64_t n_instances, n_checkpoints, shard_size;
    const int64_t *seq_idx;        // [N]
    const uint8_t *split;          // [N]
    const int64_t *train_step;     // [N]
    const int64_t *step;           // [C]
    const char *const *paths;      // [C]
    const char *const *checksums;  // [C] ("" where a checkpoint could not be read)
    const char *model, *backend, *precision;
    const char *config_yaml, *config_hash;
    const char *device_names;      // one line per worker rank
} stats_layout;

typedef struct stats_writer {
    hid_t file;
    hid_t metric[STATS_N_METRICS];  // /stats/<metric> [C, N]
    hid_t done;                     // /done [C, S]
    hid_t checksum;                 // /checkpoints/checksum [C]
    hid_t independent;              // transfer property list: H5FD_MPIO_INDEPENDENT
    int64_t n_instances, n_checkpoints, shard_size, n_shards;
} stats_writer;

// Collective: creates path (truncating), every dataset pre-allocated (NaN / 0), writes the
// axes and attributes, flushes.
int stats_writer_create(stats_writer *out, MPI_Comm comm, const char *path, const stats_layout *layout,
                        memprof_error *err);

// Collective: opens an existing file for a resume; checks format, version and that the
// shapes are [C, N] and [C, S]. The file's shard size is kept (out->shard_size).
int stats_writer_open(stats_writer *out, MPI_Comm comm, const char *path, int64_t n_checkpoints,
                      int64_t n_instances, memprof_error *err);

// Independent: values[j][i - lo] for instances [lo, hi) of checkpoint c, metric j.
int stats_writer_write(stats_writer *w, int64_t checkpoint, int64_t lo, int64_t hi,
                       const double *const values[STATS_N_METRICS], memprof_error *err);

// Independent: one metric j only (values[i - lo]).
int stats_writer_write_metric(stats_writer *w, int metric, int64_t checkpoint, int64_t lo, int64_t hi,
                              const double *values, memprof_error *err);

// Independent: /done[c, shard] = value.
int stats_writer_mark_done(stats_writer *w, int64_t checkpoint, int64_t shard, uint8_t value, memprof_error *err);

// Independent: /checkpoints/checksum[c] (a worker learns it when it opens the checkpoint).
int stats_writer_set_checksum(stats_writer *w, int64_t checkpoint, const char *checksum, memprof_error *err);

// Collective: closes everything (safe on a zeroed or partially opened writer).
int stats_writer_close(stats_writer *w, memprof_error *err);

#endif
