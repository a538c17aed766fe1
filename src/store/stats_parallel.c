// stats_parallel.c — stats.h5 through parallel HDF5 (MPI-IO driver); see stats_parallel.h.
//   /instances/{seq_idx int64, split uint8, train_step int64} [N]
//   /checkpoints/{step int64, path S1024, checksum S32} [C]
//   /stats/{sup_seq, acc_seq, entr_seq, avg_rank} float64 [C, N], fill NaN
//   /done uint8 [C, S], fill 0, attribute shard_size
// Datasets are contiguous and allocated at creation (ALLOC_TIME_EARLY) so that later raw
// writes never touch metadata; a killed job leaves a file whose metadata was flushed whole.
#include "memprof/stats_parallel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/version.h"
#include "store/h5small.h"

static hid_t fixed_string_type(size_t width) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    return t;
}

// Creates a contiguous dataset, allocated now, with the given fill value.
static hid_t create_dataset(hid_t file, const char *path, hid_t type, int rank, const hsize_t *dims,
                            const void *fill) {
    if (h5_make_parents(file, path)) return -1;
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    if (fill) {
        H5Pset_fill_value(dcpl, type, fill);
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    }
    hid_t d = H5Dcreate2(file, path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    return d;
}

// Rank 0 fills a 1-D dataset with independent I/O (others take part in nothing).
static int write_axis(hid_t d, hid_t mem_type, int rank, int64_t n, const void *data, hid_t xfer) {
    if (rank != 0 || n == 0) return 0;
    return H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, xfer, data) < 0 ? -1 : 0;
}

static int write_strings(hid_t file, const char *path, int rank, int64_t n, const char *const *s, size_t width,
                         hid_t xfer) {
    hid_t t = fixed_string_type(width);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t d = create_dataset(file, path, t, 1, dims, NULL);
    int rc = d < 0 ? -1 : 0;
    char *buf = calloc((size_t)(n > 0 ? n : 1), width);
    if (!buf) rc = -1;
    if (!rc && rank == 0) {
        for (int64_t j = 0; j < n; j++)
            if (s && s[j]) strncpy(buf + (size_t)j * width, s[j], width - 1);
        rc = write_axis(d, t, rank, n, buf, xfer);
    }
    free(buf);
    if (d >= 0) H5Dclose(d);
    H5Tclose(t);
    return rc;
}

static hid_t file_access(MPI_Comm comm) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    return fapl;
}

static int open_datasets(stats_writer *w) {
    for (int j = 0; j < STATS_N_METRICS; j++) {
        char ds[64];
        snprintf(ds, sizeof ds, "/stats/%s", stats_metric_names[j]);
        w->metric[j] = H5Dopen2(w->file, ds, H5P_DEFAULT);
        if (w->metric[j] < 0) return -1;
    }
    w->done = H5Dopen2(w->file, "/done", H5P_DEFAULT);
    w->checksum = H5Dopen2(w->file, "/checkpoints/checksum", H5P_DEFAULT);
    return w->done < 0 || w->checksum < 0 ? -1 : 0;
}

int stats_writer_create(stats_writer *out, MPI_Comm comm, const char *path, const stats_layout *L,
                        memprof_error *err) {
    memset(out, 0, sizeof *out);
    out->file = out->done = out->checksum = out->independent = -1;
    for (int j = 0; j < STATS_N_METRICS; j++) out->metric[j] = -1;
    h5_quiet();
    int rank;
    MPI_Comm_rank(comm, &rank);
    int64_t N = L->n_instances, C = L->n_checkpoints, shard = L->shard_size;
    out->n_instances = N; out->n_checkpoints = C; out->shard_size = shard;
    out->n_shards = (N + shard - 1) / shard;

    hid_t fapl = file_access(comm);
    out->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (out->file < 0) return error_set(err, MEMPROF_ERR, "%s: cannot create the stats file", path);
    out->independent = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(out->independent, H5FD_MPIO_INDEPENDENT);
    hid_t x = out->independent;

    int rc = 0;
    hsize_t n1[1] = {(hsize_t)N}, c1[1] = {(hsize_t)C};
    hid_t d;
    // The axes: created collectively, filled by rank 0.
    d = create_dataset(out->file, "/instances/seq_idx", H5T_STD_I64LE, 1, n1, NULL);
    rc |= d < 0 || write_axis(d, H5T_NATIVE_INT64, rank, N, L->seq_idx, x); if (d >= 0) H5Dclose(d);
    d = create_dataset(out->file, "/instances/split", H5T_STD_U8LE, 1, n1, NULL);
    rc |= d < 0 || write_axis(d, H5T_NATIVE_UINT8, rank, N, L->split, x); if (d >= 0) H5Dclose(d);
    d = create_dataset(out->file, "/instances/train_step", H5T_STD_I64LE, 1, n1, NULL);
    rc |= d < 0 || write_axis(d, H5T_NATIVE_INT64, rank, N, L->train_step, x); if (d >= 0) H5Dclose(d);
    d = create_dataset(out->file, "/checkpoints/step", H5T_STD_I64LE, 1, c1, NULL);
    rc |= d < 0 || write_axis(d, H5T_NATIVE_INT64, rank, C, L->step, x); if (d >= 0) H5Dclose(d);
    rc |= write_strings(out->file, "/checkpoints/path", rank, C, L->paths, STATS_PATH_WIDTH, x) != 0;
    rc |= write_strings(out->file, "/checkpoints/checksum", rank, C, L->checksums, STATS_CHECKSUM_WIDTH, x) != 0;
    if (rc) { stats_writer_close(out, NULL); return error_set(err, MEMPROF_ERR, "%s: cannot create the instance or checkpoint axis", path); }

    const double nan = NAN;
    hsize_t cn[2] = {(hsize_t)C, (hsize_t)N};
    for (int j = 0; j < STATS_N_METRICS && !rc; j++) {
        char ds[64];
        snprintf(ds, sizeof ds, "/stats/%s", stats_metric_names[j]);
        out->metric[j] = create_dataset(out->file, ds, H5T_IEEE_F64LE, 2, cn, &nan);
        rc |= out->metric[j] < 0;
    }
    const uint8_t zero = 0;
    hsize_t cs[2] = {(hsize_t)C, (hsize_t)out->n_shards};
    if (!rc) out->done = create_dataset(out->file, "/done", H5T_STD_U8LE, 2, cs, &zero);
    rc |= out->done < 0;
    if (!rc) rc |= h5_attr_i64(out->done, "shard_size", shard) != 0;
    if (!rc)
        rc |= h5_attr_str(out->file, "format", STATS_FORMAT) || h5_attr_i64(out->file, "format_version", STATS_FORMAT_VERSION) ||
              h5_attr_str(out->file, "memprof_version", MEMPROF_VERSION) || h5_attr_str(out->file, "model", L->model) ||
              h5_attr_str(out->file, "backend", L->backend) || h5_attr_str(out->file, "precision", L->precision) ||
              h5_attr_str(out->file, "config", L->config_yaml) || h5_attr_str(out->file, "config_hash", L->config_hash) ||
              h5_attr_str(out->file, "devices", L->device_names);
    if (!rc) rc |= (out->checksum = H5Dopen2(out->file, "/checkpoints/checksum", H5P_DEFAULT)) < 0;
    if (!rc && H5Fflush(out->file, H5F_SCOPE_GLOBAL) < 0) rc = 1;
    if (rc) { stats_writer_close(out, NULL); return error_set(err, MEMPROF_ERR, "%s: cannot create the statistics datasets", path); }
    return MEMPROF_OK;
}

int stats_writer_open(stats_writer *out, MPI_Comm comm, const char *path, int64_t C, int64_t N,
                      memprof_error *err) {
    memset(out, 0, sizeof *out);
    out->file = out->done = out->checksum = out->independent = -1;
    for (int j = 0; j < STATS_N_METRICS; j++) out->metric[j] = -1;
    h5_quiet();
    hid_t fapl = file_access(comm);
    out->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (out->file < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open the stats file for a resume", path);
    out->independent = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(out->independent, H5FD_MPIO_INDEPENDENT);
    char format[64];
    h5_read_attr_str(out->file, "format", format, sizeof format);
    if (strcmp(format, STATS_FORMAT) != 0) {
        stats_writer_close(out, NULL);
        return error_set(err, MEMPROF_ERR, "%s: not a memprof stats file (format '%s')", path, format);
    }
    if (open_datasets(out)) {
        stats_writer_close(out, NULL);
        return error_set(err, MEMPROF_ERR, "%s: missing /stats or /done datasets", path);
    }
    hsize_t dims[2] = {0, 0};
    hid_t s = H5Dget_space(out->metric[0]);
    int nd = H5Sget_simple_extent_ndims(s);
    H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    if (nd != 2 || (int64_t)dims[0] != C || (int64_t)dims[1] != N) {
        stats_writer_close(out, NULL);
        return error_set(err, MEMPROF_ERR, "%s: /stats has shape [%llu, %llu], the sweep needs [%lld, %lld]", path,
                         (unsigned long long)dims[0], (unsigned long long)dims[1], (long long)C, (long long)N);
    }
    int64_t shard = 0;
    hid_t a = H5Aexists(out->done, "shard_size") > 0 ? H5Aopen(out->done, "shard_size", H5P_DEFAULT) : -1;
    if (a >= 0) { H5Aread(a, H5T_NATIVE_INT64, &shard); H5Aclose(a); }
    if (shard < 1) {
        stats_writer_close(out, NULL);
        return error_set(err, MEMPROF_ERR, "%s: /done has no shard_size attribute", path);
    }
    out->n_instances = N; out->n_checkpoints = C; out->shard_size = shard;
    out->n_shards = (N + shard - 1) / shard;
    return MEMPROF_OK;
}

static int write_block(hid_t d, hid_t mem_type, hsize_t row, hsize_t col, hsize_t count, const void *data, hid_t xfer) {
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {row, col}, cnt[2] = {1, count};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    herr_t st = H5Dwrite(d, mem_type, ms, fs, xfer, data);
    H5Sclose(ms);
    H5Sclose(fs);
    return st < 0 ? -1 : 0;
}

int stats_writer_write_metric(stats_writer *w, int j, int64_t c, int64_t lo, int64_t hi, const double *values,
                              memprof_error *err) {
    if (j < 0 || j >= STATS_N_METRICS || c < 0 || c >= w->n_checkpoints || lo < 0 || hi > w->n_instances || lo >= hi)
        return error_set(err, MEMPROF_ERR, "stats: write outside the [%lld, %lld] grid: metric %d, checkpoint %lld, instances [%lld, %lld)",
                         (long long)w->n_checkpoints, (long long)w->n_instances, j, (long long)c, (long long)lo, (long long)hi);
    if (write_block(w->metric[j], H5T_NATIVE_DOUBLE, (hsize_t)c, (hsize_t)lo, (hsize_t)(hi - lo), values, w->independent))
        return error_set(err, MEMPROF_ERR, "stats: cannot write /stats/%s[%lld, %lld:%lld]", stats_metric_names[j],
                         (long long)c, (long long)lo, (long long)hi);
    return MEMPROF_OK;
}

int stats_writer_write(stats_writer *w, int64_t c, int64_t lo, int64_t hi, const double *const values[STATS_N_METRICS],
                       memprof_error *err) {
    for (int j = 0; j < STATS_N_METRICS; j++) {
        int rc = stats_writer_write_metric(w, j, c, lo, hi, values[j], err);
        if (rc) return rc;
    }
    return MEMPROF_OK;
}

int stats_writer_mark_done(stats_writer *w, int64_t c, int64_t shard, uint8_t value, memprof_error *err) {
    if (write_block(w->done, H5T_NATIVE_UINT8, (hsize_t)c, (hsize_t)shard, 1, &value, w->independent))
        return error_set(err, MEMPROF_ERR, "stats: cannot write /done[%lld, %lld]", (long long)c, (long long)shard);
    return MEMPROF_OK;
}

int stats_writer_set_checksum(stats_writer *w, int64_t c, const char *checksum, memprof_error *err) {
    hid_t d = w->checksum;
    char buf[STATS_CHECKSUM_WIDTH] = {0};
    strncpy(buf, checksum, sizeof buf - 1);
    hid_t t = fixed_string_type(STATS_CHECKSUM_WIDTH);
    hid_t fs = H5Dget_space(d);
    hsize_t start[1] = {(hsize_t)c}, cnt[1] = {1};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(1, cnt, NULL);
    herr_t st = H5Dwrite(d, t, ms, fs, w->independent, buf);
    H5Sclose(ms); H5Sclose(fs); H5Tclose(t);
    return st < 0 ? error_set(err, MEMPROF_ERR, "stats: cannot write /checkpoints/checksum[%lld]", (long long)c) : MEMPROF_OK;
}

int stats_writer_close(stats_writer *w, memprof_error *err) {
    for (int j = 0; j < STATS_N_METRICS; j++)
        if (w->metric[j] >= 0) { H5Dclose(w->metric[j]); w->metric[j] = -1; }
    if (w->done >= 0) { H5Dclose(w->done); w->done = -1; }
    if (w->checksum >= 0) { H5Dclose(w->checksum); w->checksum = -1; }
    if (w->independent >= 0) { H5Pclose(w->independent); w->independent = -1; }
    int rc = 0;
    if (w->file >= 0) {
        rc = H5Fclose(w->file) < 0;
        w->file = -1;
    }
    return rc ? error_set(err, MEMPROF_ERR, "stats: closing the file failed") : MEMPROF_OK;
}
