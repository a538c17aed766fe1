// effects_h5.c — effects.h5 (docs/formats.md):
//   /attgt/{cohort,base_period,time} int64 [K]; /attgt/{att,se,lower,upper} float64 [K];
//   /attgt/significant uint8 [K];
//   /agg/{simple,cohort,time,event}/{key int64, att, se, lower, upper float64, significant,
//   is_overall uint8} [rows]: keyed rows first, the overall row last (key 0, is_overall 1);
//   extras: /attgt/se_analytic, /attgt/n_treated, /attgt/n_control, /simple_difference/*.
// Effects are raw (not sign-flipped); memorisation_sign says how to flip them.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/store.h"
#include "memprof/version.h"
#include "store/h5small.h"

static int write_agg(hid_t f, const char *name, const agg_table *tb) {
    int64_t m = tb->n_rows;
    int64_t *key = malloc((size_t)(m + 1) * sizeof *key);
    double *v = malloc((size_t)(m + 1) * sizeof *v);
    uint8_t *u = malloc((size_t)(m + 1));
    int rc = -1;
    char p[128];
    if (!key || !v || !u) goto out;
    for (int64_t j = 0; j < m; j++) key[j] = tb->rows[j].is_overall ? 0 : tb->rows[j].key;
    snprintf(p, sizeof p, "/agg/%s/key", name);
    if (h5_write_i64(f, p, m, key)) goto out;
#define COL(field, label)                                                    \
    for (int64_t j = 0; j < m; j++) v[j] = tb->rows[j].field;               \
    snprintf(p, sizeof p, "/agg/%s/%s", name, label);                        \
    if (h5_write_f64(f, p, m, v)) goto out;
    COL(att, "att") COL(se, "se") COL(lower, "lower") COL(upper, "upper")
#undef COL
    for (int64_t j = 0; j < m; j++) u[j] = (uint8_t)tb->rows[j].significant;
    snprintf(p, sizeof p, "/agg/%s/significant", name);
    if (h5_write_u8(f, p, m, u)) goto out;
    for (int64_t j = 0; j < m; j++) u[j] = (uint8_t)tb->rows[j].is_overall;
    snprintf(p, sizeof p, "/agg/%s/is_overall", name);
    if (h5_write_u8(f, p, m, u)) goto out;
    snprintf(p, sizeof p, "/agg/%s", name);
    hid_t g = H5Gopen2(f, p, H5P_DEFAULT);
    if (g < 0) goto out;
    rc = h5_attr_f64(g, "critical_value", tb->crit);
    H5Gclose(g);
out:
    free(key); free(v); free(u);
    return rc;
}

int store_effects_write(const char *path, const estimate_result *r, const estimate_panel *p, const effects_attrs *a,
                        memprof_error *err) {
    h5_quiet();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return error_set(err, MEMPROF_ERR, "%s: cannot create", path);
    int64_t K = r->K;
    uint8_t *sig = malloc((size_t)(K + 1));
    int64_t CT = p->no_cells_from * p->T;
    int64_t *sc = malloc((size_t)(CT + 1) * sizeof *sc), *st = malloc((size_t)(CT + 1) * sizeof *st);
    int rc = 0;
    if (!sig || !sc || !st) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto out; }
    for (int64_t k = 0; k < K; k++) sig[k] = (uint8_t)r->significant[k];
    for (int64_t c = 0; c < p->no_cells_from; c++)
        for (int64_t s = 0; s < p->T; s++) { sc[c * p->T + s] = p->cohort[c]; st[c * p->T + s] = p->times[s]; }
    if (h5_write_i64(f, "/attgt/cohort", K, r->cohort) || h5_write_i64(f, "/attgt/base_period", K, r->base) ||
        h5_write_i64(f, "/attgt/time", K, r->time) || h5_write_f64(f, "/attgt/att", K, r->att) ||
        h5_write_f64(f, "/attgt/se", K, r->se) || h5_write_f64(f, "/attgt/lower", K, r->lower) ||
        h5_write_f64(f, "/attgt/upper", K, r->upper) || h5_write_u8(f, "/attgt/significant", K, sig) ||
        h5_write_f64(f, "/attgt/se_analytic", K, r->se_analytic) ||
        h5_write_i64(f, "/attgt/n_treated", K, r->n_treated) || h5_write_i64(f, "/attgt/n_control", K, r->n_control) ||
        h5_write_i64(f, "/simple_difference/cohort", CT, sc) || h5_write_i64(f, "/simple_difference/time", CT, st) ||
        h5_write_f64(f, "/simple_difference/estimate", CT, r->simple_difference)) {
        rc = error_set(err, MEMPROF_ERR, "%s: cannot write /attgt", path); goto out;
    }
    static const char *names[AGG_COUNT] = {"simple", "cohort", "time", "event"};
    for (int j = 0; j < AGG_COUNT; j++)
        if (write_agg(f, names[j], &r->agg[j])) { rc = error_set(err, MEMPROF_ERR, "%s: cannot write /agg/%s", path, names[j]); goto out; }
    if (h5_attr_str(f, "format", "memprof-effects") || h5_attr_i64(f, "format_version", 1) ||
        h5_attr_str(f, "memprof_version", MEMPROF_VERSION) || h5_attr_str(f, "model", a->model) ||
        h5_attr_str(f, "metric", a->metric) || h5_attr_str(f, "control_group", a->control_group) ||
        h5_attr_str(f, "base_period", a->base_period) || h5_attr_i64(f, "anticipation", a->anticipation) ||
        h5_attr_f64(f, "alpha", a->alpha) || h5_attr_i64(f, "bootstrap", a->bootstrap) ||
        h5_attr_i64(f, "seed", (int64_t)a->seed) || h5_attr_f64(f, "critical_value", r->crit) ||
        h5_attr_i64(f, "n_units", r->n) || h5_attr_i64(f, "memorisation_sign", a->memorisation_sign) ||
        h5_attr_str(f, "cohort_rule", a->cohort_rule) || h5_attr_str(f, "missing_checkpoints", a->missing_checkpoints) ||
        h5_attr_f64(f, "wald_stat", r->wald_stat) || h5_attr_i64(f, "wald_df", r->wald_df) ||
        h5_attr_f64(f, "wald_pvalue", r->wald_pvalue)) {
        rc = error_set(err, MEMPROF_ERR, "%s: cannot write root attributes", path);
    }
out:
    free(sig); free(sc); free(st);
    if (H5Fclose(f) < 0 && !rc) rc = error_set(err, MEMPROF_ERR, "%s: close failed", path);
    return rc;
}
