// csv_write.c — the pinned CSV tables (issue 4): attgt.csv and agg_{simple,cohort,time,event}.csv,
// plus simple_difference.csv and pretest.csv. Numbers %.17g, NaN as an empty field,
// zero_not_in_cband "*" or empty. Rows of attgt.csv in cohort-major, time-minor order.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "memprof/estimate.h"

static void put_num(FILE *f, double v) {
    if (!isnan(v)) fprintf(f, "%.17g", v);
}

static void put_tail(FILE *f, double att, double se, double lo, double hi, int sig) {
    put_num(f, att); fputc(',', f);
    put_num(f, se); fputc(',', f);
    put_num(f, lo); fputc(',', f);
    put_num(f, hi); fputc(',', f);
    fputs(sig ? "*\n" : "\n", f);
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t cap, memprof_error *err) {
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) error_set(err, MEMPROF_ERR, "%s: cannot create: %s", path, strerror(errno));
    return f;
}

static int close_checked(FILE *f, const char *path, memprof_error *err) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return error_set(err, MEMPROF_ERR, "%s: write failed", path);
    return 0;
}

// mkdir -p
static int make_dirs(const char *dir) {
    char buf[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, dir, len + 1);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return (mkdir(buf, 0777) != 0 && errno != EEXIST) ? -1 : 0;
}

int estimate_write_csv(const char *dir, const estimate_result *r, const estimate_panel *p, memprof_error *err) {
    if (make_dirs(dir) != 0) return error_set(err, MEMPROF_ERR, "%s: cannot create directory: %s", dir, strerror(errno));
    char path[4096];
    FILE *f = open_in(dir, "attgt.csv", path, sizeof path, err);
    if (!f) return MEMPROF_ERR;
    fputs("cohort,base_period,time,ATT,std_error,lower,upper,zero_not_in_cband\n", f);
    for (int64_t k = 0; k < r->K; k++) {
        fprintf(f, "%lld,%lld,%lld,", (long long)r->cohort[k], (long long)r->base[k], (long long)r->time[k]);
        put_tail(f, r->att[k], r->se[k], r->lower[k], r->upper[k], r->significant[k]);
    }
    if (close_checked(f, path, err)) return MEMPROF_ERR;

    static const char *files[AGG_COUNT] = {"agg_simple.csv", "agg_cohort.csv", "agg_time.csv", "agg_event.csv"};
    static const char *keyname[AGG_COUNT] = {NULL, "cohort", "time", "relative_period"};
    for (int a = 0; a < AGG_COUNT; a++) {
        const agg_table *tb = &r->agg[a];
        if (!(f = open_in(dir, files[a], path, sizeof path, err))) return MEMPROF_ERR;
        if (keyname[a]) fprintf(f, "%s,", keyname[a]);
        fputs("ATT,std_error,lower,upper,zero_not_in_cband\n", f);
        for (int64_t j = 0; j < tb->n_rows; j++) {
            const agg_row *row = &tb->rows[j];
            if (keyname[a]) {
                if (row->is_overall) fputs("overall,", f);
                else fprintf(f, "%lld,", (long long)row->key);
            }
            put_tail(f, row->att, row->se, row->lower, row->upper, row->significant);
        }
        if (close_checked(f, path, err)) return MEMPROF_ERR;
    }

    if (!(f = open_in(dir, "simple_difference.csv", path, sizeof path, err))) return MEMPROF_ERR;
    fputs("cohort,time,simple_difference\n", f);
    for (int64_t c = 0; c < p->no_cells_from; c++)
        for (int64_t s = 0; s < p->T; s++) {
            fprintf(f, "%lld,%lld,", (long long)p->cohort[c], (long long)p->times[s]);
            put_num(f, r->simple_difference[c * p->T + s]);
            fputc('\n', f);
        }
    if (close_checked(f, path, err)) return MEMPROF_ERR;

    if (!(f = open_in(dir, "pretest.csv", path, sizeof path, err))) return MEMPROF_ERR;
    fputs("W,df,p_value,note\n", f);
    put_num(f, r->wald_stat); fprintf(f, ",%lld,", (long long)r->wald_df);
    put_num(f, r->wald_pvalue); fprintf(f, ",%s\n", r->wald_note ? r->wald_note : "");
    return close_checked(f, path, err);
}
