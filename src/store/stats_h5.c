// stats_h5.c — stats.h5 (docs/formats.md): the instance axis, the checkpoint
// axis, /stats/<metric> float64 [C, N] (NaN = not computed) and the /done map [C, S].
// Written here by `memprof simulate` (and reusable by the sweep); read by estimate.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/store.h"
#include "memprof/version.h"
#include "store/h5small.h"

const char *const stats_metric_names[STATS_N_METRICS] = {"sup_seq", "acc_seq", "entr_seq", "avg_rank"};

int stats_memorisation_sign(const char *metric) {
    if (strcmp(metric, "acc_seq") == 0) return 1;
    if (strcmp(metric, "sup_seq") == 0 || strcmp(metric, "entr_seq") == 0 || strcmp(metric, "avg_rank") == 0) return -1;
    return 0;
}

void stats_meta_free(stats_meta *m) {
    free(m->seq_idx); free(m->split); free(m->train_step); free(m->step);
    memset(m, 0, sizeof *m);
}

int store_stats_read_meta(stats_meta *out, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open as HDF5", path);
    int rc = 0;
    hsize_t dims[2];
    int64_t n = h5_length(f, "/instances/train_step", 1, dims);
    int64_t c = h5_length(f, "/checkpoints/step", 1, dims);
    if (n < 0 || c < 0) { rc = error_set(err, MEMPROF_ERR, "%s: missing /instances/train_step or /checkpoints/step", path); goto done; }
    if (h5_length(f, "/instances/seq_idx", 1, dims) != n || h5_length(f, "/instances/split", 1, dims) != n) {
        rc = error_set(err, MEMPROF_ERR, "%s: /instances/seq_idx and /instances/split must have %lld entries", path, (long long)n);
        goto done;
    }
    out->n_instances = n; out->n_checkpoints = c;
    out->seq_idx = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    out->split = malloc((size_t)(n ? n : 1));
    out->train_step = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    out->step = malloc((size_t)(c ? c : 1) * sizeof(int64_t));
    if (!out->seq_idx || !out->split || !out->train_step || !out->step) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
    if ((n && (h5_read(f, "/instances/seq_idx", H5T_NATIVE_INT64, out->seq_idx) ||
               h5_read(f, "/instances/split", H5T_NATIVE_UINT8, out->split) ||
               h5_read(f, "/instances/train_step", H5T_NATIVE_INT64, out->train_step))) ||
        (c && h5_read(f, "/checkpoints/step", H5T_NATIVE_INT64, out->step))) {
        rc = error_set(err, MEMPROF_ERR, "%s: cannot read the instance or checkpoint axis", path);
        goto done;
    }
    h5_read_attr_str(f, "model", out->model, sizeof out->model);
done:
    H5Fclose(f);
    if (rc) stats_meta_free(out);
    return rc;
}

int store_stats_read_metric(double *values, const char *path, const char *metric, memprof_error *err) {
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open as HDF5", path);
    char ds[256];
    snprintf(ds, sizeof ds, "/stats/%s", metric);
    hsize_t dims[2];
    int rc = 0;
    if (h5_length(f, ds, 2, dims) < 0) rc = error_set(err, MEMPROF_ERR, "%s: no 2-D dataset %s", path, ds);
    else if (h5_read(f, ds, H5T_NATIVE_DOUBLE, values)) rc = error_set(err, MEMPROF_ERR, "%s: cannot read %s", path, ds);
    H5Fclose(f);
    return rc;
}

int store_stats_write(const char *path, const stats_meta *m, const double *const metrics[STATS_N_METRICS],
                      int64_t shard_size, const char *backend, memprof_error *err) {
    h5_quiet();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return error_set(err, MEMPROF_ERR, "%s: cannot create", path);
    int64_t N = m->n_instances, C = m->n_checkpoints;
    if (shard_size < 1) shard_size = N > 0 ? N : 1;
    int64_t S = (N + shard_size - 1) / shard_size;
    double *nan_block = NULL;
    uint8_t *done = calloc((size_t)(C * S + 1), 1);
    char **names = calloc((size_t)(C + 1), sizeof *names);
    int rc = 0;
    if (!done || !names) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto out; }
    for (int64_t j = 0; j < C * S; j++) done[j] = 1;
    if (h5_write_i64(f, "/instances/seq_idx", N, m->seq_idx) || h5_write_u8(f, "/instances/split", N, m->split) ||
        h5_write_i64(f, "/instances/train_step", N, m->train_step) || h5_write_i64(f, "/checkpoints/step", C, m->step) ||
        h5_write_strings(f, "/checkpoints/path", C, (const char *const *)names, 64) ||
        h5_write_strings(f, "/checkpoints/checksum", C, (const char *const *)names, 32)) {
        rc = error_set(err, MEMPROF_ERR, "%s: cannot write the axes", path); goto out;
    }
    for (int j = 0; j < STATS_N_METRICS; j++) {
        const double *v = metrics[j];
        if (!v) {
            if (!nan_block) {
                nan_block = malloc((size_t)(C * N + 1) * sizeof *nan_block);
                if (!nan_block) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto out; }
                for (int64_t q = 0; q < C * N; q++) nan_block[q] = NAN;
            }
            v = nan_block;
        }
        char ds[64];
        snprintf(ds, sizeof ds, "/stats/%s", stats_metric_names[j]);
        hsize_t dims[2] = {(hsize_t)C, (hsize_t)N};
        if (h5_write(f, ds, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, dims, v)) { rc = error_set(err, MEMPROF_ERR, "%s: cannot write %s", path, ds); goto out; }
    }
    hsize_t ddims[2] = {(hsize_t)C, (hsize_t)S};
    if (h5_write(f, "/done", H5T_NATIVE_UINT8, H5T_STD_U8LE, 2, ddims, done)) { rc = error_set(err, MEMPROF_ERR, "%s: cannot write /done", path); goto out; }
    hid_t dset = H5Dopen2(f, "/done", H5P_DEFAULT);
    if (dset >= 0) { h5_attr_i64(dset, "shard_size", shard_size); H5Dclose(dset); }
    if (h5_attr_str(f, "format", "memprof-stats") || h5_attr_i64(f, "format_version", 1) ||
        h5_attr_str(f, "memprof_version", MEMPROF_VERSION) || h5_attr_str(f, "model", m->model) ||
        h5_attr_str(f, "backend", backend ? backend : "") || h5_attr_str(f, "precision", "fp64")) {
        rc = error_set(err, MEMPROF_ERR, "%s: cannot write root attributes", path);
    }
out:
    free(nan_block); free(done); free(names);
    if (H5Fclose(f) < 0 && !rc) rc = error_set(err, MEMPROF_ERR, "%s: close failed", path);
    return rc;
}
