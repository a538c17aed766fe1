// effects_read.c — effects.h5 → effects_file (include/memprof/effects.h).
// Shapes: K ATT(g,t) cells; R rows per aggregation (overall row included).
// Every failure names the file and the dataset or attribute, so a user can tell a
// truncated file from one written by another tool.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/effects.h"
#include "store/h5small.h"

const char *const effects_agg_names[EFFECTS_AGG_COUNT] = {"simple", "cohort", "time", "event"};

static int attr_number(hid_t obj, const char *name, hid_t mem_type, void *out) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a);
    int ok = (H5Tget_class(ft) == H5T_INTEGER || H5Tget_class(ft) == H5T_FLOAT) && H5Aread(a, mem_type, out) >= 0;
    H5Tclose(ft);
    H5Aclose(a);
    return ok ? 0 : -1;
}

// Reads a 1-D dataset of exactly n elements (n < 0: any length, returned through *n_out).
static int read_column(void **out, hid_t f, const char *file, const char *dset, hid_t mem_type, size_t elem,
                       int64_t n, int64_t *n_out, memprof_error *err) {
    hsize_t dims[1];
    if (H5Lexists(f, dset, H5P_DEFAULT) <= 0)
        return error_set(err, MEMPROF_ERR, "%s: missing dataset %s (not an effects.h5 from memprof estimate?)", file, dset);
    int64_t len = h5_length(f, dset, 1, dims);
    if (len < 0) return error_set(err, MEMPROF_ERR, "%s: dataset %s is not a 1-D dataset", file, dset);
    if (n >= 0 && len != n)
        return error_set(err, MEMPROF_ERR, "%s: dataset %s has %lld rows, expected %lld", file, dset, (long long)len, (long long)n);
    void *buf = malloc((size_t)(len > 0 ? len : 1) * elem);
    if (!buf) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory reading %s", file, dset);
    if (len > 0 && h5_read(f, dset, mem_type, buf)) {
        free(buf);
        return error_set(err, MEMPROF_ERR, "%s: cannot read dataset %s as %s", file, dset,
                         mem_type == H5T_NATIVE_DOUBLE ? "float64" : "integers");
    }
    *out = buf;
    if (n_out) *n_out = len;
    return 0;
}

static int read_agg(effects_agg *g, hid_t f, const char *file, const char *name, memprof_error *err) {
    char p[96];
    snprintf(p, sizeof p, "/agg/%s/key", name);
    if (read_column((void **)&g->key, f, file, p, H5T_NATIVE_INT64, sizeof(int64_t), -1, &g->n, err)) return err->code;
    struct { double **dst; const char *col; } cols[] = {
        {&g->att, "att"}, {&g->se, "se"}, {&g->lower, "lower"}, {&g->upper, "upper"}};
    for (size_t j = 0; j < sizeof cols / sizeof cols[0]; j++) {
        snprintf(p, sizeof p, "/agg/%s/%s", name, cols[j].col);
        if (read_column((void **)cols[j].dst, f, file, p, H5T_NATIVE_DOUBLE, sizeof(double), g->n, NULL, err)) return err->code;
    }
    snprintf(p, sizeof p, "/agg/%s/significant", name);
    if (read_column((void **)&g->significant, f, file, p, H5T_NATIVE_UINT8, 1, g->n, NULL, err)) return err->code;
    snprintf(p, sizeof p, "/agg/%s/is_overall", name);
    if (H5Lexists(f, p, H5P_DEFAULT) > 0) {
        if (read_column((void **)&g->is_overall, f, file, p, H5T_NATIVE_UINT8, 1, g->n, NULL, err)) return err->code;
    } else {
        // The pinned layout has "an overall row" without a marker; memprof writes it last.
        g->is_overall = calloc((size_t)(g->n > 0 ? g->n : 1), 1);
        if (!g->is_overall) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", file);
        if (g->n > 0) g->is_overall[g->n - 1] = 1;
    }
    return 0;
}

static int read_all(effects_file *e, hid_t f, const char *file, memprof_error *err) {
    char format[64];
    h5_read_attr_str(f, "format", format, sizeof format);
    if (strcmp(format, "memprof-effects") != 0)
        return error_set(err, MEMPROF_ERR, "%s: root attribute format is '%s', expected 'memprof-effects'", file, format);
    int64_t sign = 0;
    if (attr_number(f, "memorisation_sign", H5T_NATIVE_INT64, &sign) || (sign != 1 && sign != -1))
        return error_set(err, MEMPROF_ERR, "%s: root attribute memorisation_sign is missing or not +1/-1", file);
    e->memorisation_sign = (int)sign;
    h5_read_attr_str(f, "model", e->model, sizeof e->model);
    h5_read_attr_str(f, "metric", e->metric, sizeof e->metric);
    h5_read_attr_str(f, "control_group", e->control_group, sizeof e->control_group);
    h5_read_attr_str(f, "base_period", e->base_period_rule, sizeof e->base_period_rule);
    // Descriptive attributes: absent ones stay at their defaults (they do not change a figure).
    attr_number(f, "anticipation", H5T_NATIVE_INT64, &e->anticipation);
    attr_number(f, "bootstrap", H5T_NATIVE_INT64, &e->bootstrap);
    attr_number(f, "n_units", H5T_NATIVE_INT64, &e->n_units);
    attr_number(f, "seed", H5T_NATIVE_INT64, &e->seed);
    attr_number(f, "alpha", H5T_NATIVE_DOUBLE, &e->alpha);
    attr_number(f, "critical_value", H5T_NATIVE_DOUBLE, &e->critical_value);

    if (read_column((void **)&e->cohort, f, file, "/attgt/cohort", H5T_NATIVE_INT64, sizeof(int64_t), -1, &e->K, err))
        return err->code;
    struct { void **dst; const char *name; hid_t type; size_t elem; } cols[] = {
        {(void **)&e->base_period, "/attgt/base_period", H5T_NATIVE_INT64, sizeof(int64_t)},
        {(void **)&e->time, "/attgt/time", H5T_NATIVE_INT64, sizeof(int64_t)},
        {(void **)&e->att, "/attgt/att", H5T_NATIVE_DOUBLE, sizeof(double)},
        {(void **)&e->se, "/attgt/se", H5T_NATIVE_DOUBLE, sizeof(double)},
        {(void **)&e->lower, "/attgt/lower", H5T_NATIVE_DOUBLE, sizeof(double)},
        {(void **)&e->upper, "/attgt/upper", H5T_NATIVE_DOUBLE, sizeof(double)},
        {(void **)&e->significant, "/attgt/significant", H5T_NATIVE_UINT8, 1},
    };
    for (size_t j = 0; j < sizeof cols / sizeof cols[0]; j++)
        if (read_column(cols[j].dst, f, file, cols[j].name, cols[j].type, cols[j].elem, e->K, NULL, err)) return err->code;
    for (int a = 0; a < EFFECTS_AGG_COUNT; a++)
        if (read_agg(&e->agg[a], f, file, effects_agg_names[a], err)) return err->code;
    return 0;
}

int effects_read(effects_file *out, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    out->alpha = 0.05;
    snprintf(out->path, sizeof out->path, "%s", path);
    FILE *probe = fopen(path, "rb");
    if (!probe) return error_set(err, MEMPROF_ERR, "%s: %s", path, strerror(errno));
    fclose(probe);
    h5_quiet();
    if (H5Fis_hdf5(path) <= 0) return error_set(err, MEMPROF_ERR, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open as HDF5", path);
    int rc = read_all(out, f, path, err);
    H5Fclose(f);
    if (rc) effects_free(out);
    return rc;
}

void effects_free(effects_file *e) {
    if (!e) return;
    free(e->cohort); free(e->base_period); free(e->time);
    free(e->att); free(e->se); free(e->lower); free(e->upper); free(e->significant);
    for (int a = 0; a < EFFECTS_AGG_COUNT; a++) {
        effects_agg *g = &e->agg[a];
        free(g->key); free(g->att); free(g->se); free(g->lower); free(g->upper); free(g->significant); free(g->is_overall);
    }
    memset(e, 0, sizeof *e);
}
