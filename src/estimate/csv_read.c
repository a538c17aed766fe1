// csv_read.c — a long-format CSV panel (one row per unit × time) → wide arrays.
//
// Columns are found by header name; fields may be double-quoted ("" escapes a quote).
// Unit ids are arbitrary strings; times are integers; an empty cohort, or never_value,
// means never treated; an empty outcome or NA/NaN is missing (the unit is later dropped).
// Shapes: y [T, n] time-major (NaN where a unit has no row for a period), cohort [n], times [T].
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memprof/estimate.h"

typedef struct strmap {   // open addressing: string → dense index
    int64_t cap, count;
    int64_t *slot;        // [cap] index + 1, 0 = empty
    char **keys;          // [count]
} strmap;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int strmap_get(strmap *m, const char *key, int64_t *index) {  // inserts when absent
    if (2 * (m->count + 1) > m->cap) {
        int64_t cap = m->cap ? 2 * m->cap : 1024;
        int64_t *slot = calloc((size_t)cap, sizeof *slot);
        char **keys = realloc(m->keys, (size_t)cap * sizeof *keys);
        if (!slot || !keys) { free(slot); if (keys) m->keys = keys; return MEMPROF_ERR_NOMEM; }
        m->keys = keys;
        for (int64_t j = 0; j < m->count; j++) {
            uint64_t h = hash_str(m->keys[j]) & (uint64_t)(cap - 1);
            while (slot[h]) h = (h + 1) & (uint64_t)(cap - 1);
            slot[h] = j + 1;
        }
        free(m->slot);
        m->slot = slot; m->cap = cap;
    }
    uint64_t h = hash_str(key) & (uint64_t)(m->cap - 1);
    while (m->slot[h]) {
        if (strcmp(m->keys[m->slot[h] - 1], key) == 0) { *index = m->slot[h] - 1; return 0; }
        h = (h + 1) & (uint64_t)(m->cap - 1);
    }
    char *copy = strdup(key);
    if (!copy) return MEMPROF_ERR_NOMEM;
    m->keys[m->count] = copy;
    m->slot[h] = m->count + 1;
    *index = m->count++;
    return 0;
}

static void strmap_free(strmap *m) {
    for (int64_t j = 0; j < m->count; j++) free(m->keys[j]);
    free(m->keys); free(m->slot);
}

// Splits line (modified in place) into at most max fields; returns the field count.
static int split_csv(char *line, char **fields, int max) {
    int nf = 0;
    char *r = line;
    for (;;) {
        char *w = r, *start = r;
        if (*r == '"') {
            r++; start = w = r;
            for (;;) {
                if (*r == '\0') break;
                if (*r == '"' && r[1] == '"') { *w++ = '"'; r += 2; continue; }
                if (*r == '"') { r++; break; }
                *w++ = *r++;
            }
            while (*r && *r != ',') r++;
        } else {
            while (*r && *r != ',') *w++ = *r++;
        }
        char end = *r;
        *w = '\0';
        if (nf < max) fields[nf] = start;
        nf++;
        if (end != ',') break;
        r++;
    }
    return nf;
}

static int parse_number(const char *s, double *out) {
    while (*s == ' ') s++;
    if (*s == '\0') return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (*end != '\0') return 0;
    *out = v;
    return 1;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct row { int64_t unit, line; double time, cohort, y; } row;

int estimate_read_csv(double **y_out, double **cohort_out, int64_t **times_out, int64_t *n_out, int64_t *T_out,
                      const char *path, const char *unit_col, const char *time_col, const char *cohort_col,
                      const char *outcome_col, const char *never_value, memprof_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    enum { MAXF = 4096 };
    char **fields = malloc(MAXF * sizeof *fields);
    row *rows = NULL;
    int64_t nrows = 0, rcap = 0;
    strmap units = {0};
    int rc = 0;
    int col[4] = {-1, -1, -1, -1}, nfields = 0;
    const char *names[4] = {unit_col, time_col, cohort_col, outcome_col};
    double never_num = NAN;
    int never_is_num = never_value && parse_number(never_value, &never_num);
    if (!fields) { fclose(f); return error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); }
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        int nf = split_csv(line, fields, MAXF);
        if (nfields == 0) {
            nfields = nf;
            for (int j = 0; j < nf && j < MAXF; j++)
                for (int c = 0; c < 4; c++) if (strcmp(fields[j], names[c]) == 0) col[c] = j;
            for (int c = 0; c < 4; c++)
                if (col[c] < 0) { rc = error_set(err, MEMPROF_ERR, "%s:1: no column named '%s' in the header", path, names[c]); goto done; }
            continue;
        }
        if (nf != nfields) {
            rc = error_set(err, MEMPROF_ERR, "%s:%lld: expected %d fields (as in the header), found %d", path, (long long)lineno, nfields, nf);
            goto done;
        }
        if (nrows == rcap) {
            rcap = rcap ? 2 * rcap : 4096;
            row *r2 = realloc(rows, (size_t)rcap * sizeof *r2);
            if (!r2) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
            rows = r2;
        }
        row *r = &rows[nrows];
        r->line = lineno;
        if (strmap_get(&units, fields[col[0]], &r->unit)) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
        if (!parse_number(fields[col[1]], &r->time) || r->time != floor(r->time) || fabs(r->time) > 9007199254740992.0) {
            rc = error_set(err, MEMPROF_ERR, "%s:%lld: time '%s' is not an integer (|t| <= 2^53)", path, (long long)lineno, fields[col[1]]);
            goto done;
        }
        const char *cs = fields[col[2]];
        double cv;
        if (cs[0] == '\0' || (never_value && strcmp(cs, never_value) == 0)) r->cohort = NAN;
        else if (!parse_number(cs, &cv)) {
            if (strcasecmp(cs, "NA") == 0 || strcasecmp(cs, "nan") == 0 || strcasecmp(cs, "inf") == 0) r->cohort = NAN;
            else { rc = error_set(err, MEMPROF_ERR, "%s:%lld: cohort '%s' is not a number", path, (long long)lineno, cs); goto done; }
        } else r->cohort = (never_is_num && cv == never_num) ? NAN : cv;
        const char *ys = fields[col[3]];
        if (!parse_number(ys, &r->y)) {
            if (ys[0] == '\0' || strcasecmp(ys, "NA") == 0 || strcasecmp(ys, "nan") == 0) r->y = NAN;
            else { rc = error_set(err, MEMPROF_ERR, "%s:%lld: outcome '%s' is not a number", path, (long long)lineno, ys); goto done; }
        }
        nrows++;
    }
    if (nfields == 0 || nrows == 0) { rc = error_set(err, MEMPROF_ERR, "%s: no data rows", path); goto done; }
    {
        // distinct times
        double *ts = malloc((size_t)nrows * sizeof *ts);
        if (!ts) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
        for (int64_t j = 0; j < nrows; j++) ts[j] = rows[j].time;
        qsort(ts, (size_t)nrows, sizeof *ts, cmp_d);
        int64_t T = 0;
        for (int64_t j = 0; j < nrows; j++) if (T == 0 || ts[T - 1] != ts[j]) ts[T++] = ts[j];
        int64_t n = units.count;
        int64_t *times = malloc((size_t)T * sizeof *times);
        double *y = malloc((size_t)(n * T) * sizeof *y);
        double *coh = malloc((size_t)n * sizeof *coh);
        int64_t *seen = calloc((size_t)(n * T), sizeof *seen);
        int64_t *coh_line = calloc((size_t)n, sizeof *coh_line);
        if (!times || !y || !coh || !seen || !coh_line) {
            free(ts); free(times); free(y); free(coh); free(seen); free(coh_line);
            rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done;
        }
        for (int64_t j = 0; j < T; j++) times[j] = (int64_t)ts[j];
        for (int64_t j = 0; j < n * T; j++) y[j] = NAN;
        for (int64_t j = 0; j < nrows; j++) {
            row *r = &rows[j];
            int64_t lo = 0, hi = T - 1, t = 0;
            while (lo <= hi) { int64_t mid = (lo + hi) / 2; if (ts[mid] < r->time) lo = mid + 1; else if (ts[mid] > r->time) hi = mid - 1; else { t = mid; break; } }
            if (seen[t * n + r->unit]) {
                rc = error_set(err, MEMPROF_ERR, "%s:%lld: unit '%s' already has a row for time %lld (line %lld)", path,
                               (long long)r->line, units.keys[r->unit], (long long)times[t], (long long)seen[t * n + r->unit]);
                break;
            }
            seen[t * n + r->unit] = r->line;
            y[t * n + r->unit] = r->y;
            if (!coh_line[r->unit]) { coh_line[r->unit] = r->line; coh[r->unit] = r->cohort; }
            else if (!(coh[r->unit] == r->cohort || (isnan(coh[r->unit]) && isnan(r->cohort)))) {
                rc = error_set(err, MEMPROF_ERR, "%s:%lld: unit '%s' changes cohort (line %lld says otherwise)", path,
                               (long long)r->line, units.keys[r->unit], (long long)coh_line[r->unit]);
                break;
            }
        }
        free(ts); free(seen); free(coh_line);
        if (rc) { free(times); free(y); free(coh); goto done; }
        *y_out = y; *cohort_out = coh; *times_out = times; *n_out = n; *T_out = T;
    }
done:
    free(line); free(fields); free(rows);
    strmap_free(&units);
    fclose(f);
    return rc;
}
