// panel.c — wide outcome matrix + cohorts → the balanced, cohort-sorted panel the
// estimator works on, with R `did` 2.5 preprocessing rules (docs/estimator.md):
//   units missing any period are dropped (allow_unbalanced_panel = FALSE);
//   cohorts after the last period become never treated;
//   units treated at or before the (1+δ)-th period are dropped;
//   no never-treated units: the last cohort is the comparison group and the periods
//   from g_last − δ on are dropped.
// Shapes: y_in [T_in, n_in] time-major → y [T, n] and y_unit [n, T], units sorted by cohort.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/estimate.h"

void estimate_options_default(estimate_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->control = CONTROL_NEVER_TREATED;
    opt->base = BASE_VARYING;
    opt->alpha = 0.05;
    opt->bootstrap = 0;
    opt->seed = 1234;
    opt->threads = 1;
    opt->min_e = -INFINITY;
    opt->max_e = INFINITY;
    opt->min_cohort = INT64_MIN;
    opt->max_cohort = INT64_MAX;
    opt->min_time = INT64_MIN;
    opt->max_time = INT64_MAX;
}

void estimate_panel_free(estimate_panel *p) {
    free(p->times);
    free(p->y);
    free(p->y_unit);
    free(p->cohort);
    free(p->cohort_index);
    free(p->start);
    free(p->unit_id);
    memset(p, 0, sizeof *p);
}

int estimate_panel_build(estimate_panel *out, panel_report *report, const double *y, const double *cohort,
                         const int64_t *times, int64_t n_in, int64_t T_in, const estimate_options *opt,
                         memprof_error *err) {
    memset(out, 0, sizeof *out);
    memset(report, 0, sizeof *report);
    report->units_in = n_in;
    int delta = opt->anticipation;
    if (delta < 0) return error_set(err, MEMPROF_ERR, "anticipation must be >= 0, got %d", delta);
    for (int64_t j = 1; j < T_in; j++)
        if (times[j] <= times[j - 1]) return error_set(err, MEMPROF_ERR, "time periods must be strictly ascending");

    // Time window: keep periods inside [min_time, max_time].
    int64_t *keep_t = malloc((size_t)(T_in > 0 ? T_in : 1) * sizeof *keep_t);
    int64_t *gidx = malloc((size_t)(n_in > 0 ? n_in : 1) * sizeof *gidx); // -1 never, -2 dropped
    if (!keep_t || !gidx) { free(keep_t); free(gidx); return error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); }
    int64_t T = 0;
    for (int64_t j = 0; j < T_in; j++)
        if (times[j] >= opt->min_time && times[j] <= opt->max_time) keep_t[T++] = j;
    int rc = 0;
    if (T < 2) { rc = error_set(err, MEMPROF_ERR, "need at least 2 time periods, have %lld", (long long)T); goto done; }
    int64_t t_first = times[keep_t[0]], t_last = times[keep_t[T - 1]];

    for (int64_t i = 0; i < n_in; i++) {
        double g = cohort[i];
        int never = isnan(g) || isinf(g);
        if (!never && (g < (double)opt->min_cohort || g > (double)opt->max_cohort)) {
            gidx[i] = -2; report->dropped_window++; continue;
        }
        int missing = 0;
        for (int64_t j = 0; j < T && !missing; j++) missing = isnan(y[keep_t[j] * n_in + i]);
        if (missing) { gidx[i] = -2; report->dropped_missing++; continue; }
        if (never) { gidx[i] = -1; continue; }
        if (g != floor(g) || fabs(g) > 9007199254740992.0) {
            rc = error_set(err, MEMPROF_ERR, "unit %lld: cohort %.17g is not an integer time value", (long long)i, g);
            goto done;
        }
        if (g > (double)t_last) { gidx[i] = -1; report->recoded_late++; continue; }
        int64_t gi = -1;
        for (int64_t j = 0; j < T; j++) if (times[keep_t[j]] == (int64_t)g) { gi = j; break; }
        if (gi < 0 && g > (double)t_first) {
            rc = error_set(err, MEMPROF_ERR, "unit %lld: cohort %lld is not one of the time periods (cohorts must lie on the time grid)",
                           (long long)i, (long long)g);
            goto done;
        }
        if (gi <= delta) { gidx[i] = -2; report->dropped_early++; continue; }  // G ≤ t_{1+δ}, also G ≤ t_1 off grid
        gidx[i] = gi;
    }

    // R drops units with a missing period; a cohort emptied that way is an error (its cells vanish silently otherwise).
    if (report->dropped_missing) {
        for (int64_t i = 0; i < n_in; i++) {
            double g = cohort[i];
            if (gidx[i] != -2 || isnan(g) || isinf(g)) continue;
            int missing = 0;
            for (int64_t j = 0; j < T && !missing; j++) missing = isnan(y[keep_t[j] * n_in + i]);
            if (!missing) continue;
            int64_t left = 0;
            for (int64_t u = 0; u < n_in && !left; u++) left = gidx[u] >= 0 && cohort[u] == g;
            int early = 0;   // a cohort dropped anyway (treated too early, outside the window) is no loss
            for (int64_t j = 0; j <= delta && j < T; j++) early |= (double)times[keep_t[j]] >= g;
            if (!left && !early && g >= (double)opt->min_cohort && g <= (double)opt->max_cohort && g <= (double)t_last) {
                rc = error_set(err, MEMPROF_ERR, "cohort %.17g: every unit has a missing period (R drops such units), so the cohort would vanish",
                               g);
                goto done;
            }
        }
    }

    // No never-treated units: R coerces the last cohort into the comparison group.
    int64_t n_never = 0, last_g = -1, n_kept = 0;
    for (int64_t i = 0; i < n_in; i++) {
        if (gidx[i] == -1) n_never++;
        if (gidx[i] >= 0 && gidx[i] > last_g) last_g = gidx[i];
        if (gidx[i] != -2) n_kept++;
    }
    if (n_kept == 0) { rc = error_set(err, MEMPROF_ERR, "no units left after preprocessing (missing values: %lld dropped)", (long long)report->dropped_missing); goto done; }
    if (last_g < 0) { rc = error_set(err, MEMPROF_ERR, "no treated cohorts left after preprocessing"); goto done; }
    int64_t no_cells_g = INT64_MAX;   // cohort index that stays a control but gets no cells
    if (n_never == 0) {
        report->coerced_last_cohort = 1;
        report->coerced_cohort = times[keep_t[last_g]];
        int64_t new_T = last_g - delta;   // keep periods t < g_last − δ
        for (int64_t i = 0; i < n_in; i++) {
            if (gidx[i] < 0) continue;
            if (gidx[i] == last_g) {
                if (opt->control == CONTROL_NEVER_TREATED) gidx[i] = -1;
                else no_cells_g = last_g;
            } else if (gidx[i] >= new_T) {
                rc = error_set(err, MEMPROF_ERR_UNSUPPORTED, "no never-treated units and cohort %lld lies within the anticipation window of the last cohort",
                               (long long)times[keep_t[gidx[i]]]);
                goto done;
            }
        }
        T = new_T;
        if (T < 2) { rc = error_set(err, MEMPROF_ERR, "no never-treated units: after dropping the periods from the last cohort on, fewer than 2 periods remain"); goto done; }
        last_g = -1;
        for (int64_t i = 0; i < n_in; i++) if (gidx[i] >= 0 && gidx[i] != no_cells_g && gidx[i] > last_g) last_g = gidx[i];
        if (last_g < 0) { rc = error_set(err, MEMPROF_ERR, "no never-treated units and only one cohort: nothing to compare"); goto done; }
    }

    // Distinct cohorts (ascending by index; the no-cells cohort sorts last among them).
    int64_t maxidx = (no_cells_g != INT64_MAX) ? no_cells_g : T - 1;
    int64_t *count = calloc((size_t)(maxidx + 2), sizeof *count);  // per cohort index; [maxidx+1] = never
    if (!count) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
    for (int64_t i = 0; i < n_in; i++) {
        if (gidx[i] == -2) continue;
        count[gidx[i] == -1 ? maxidx + 1 : gidx[i]]++;
    }
    int64_t C = 0, n = 0;
    for (int64_t j = 0; j <= maxidx; j++) if (count[j]) C++;
    for (int64_t j = 0; j <= maxidx + 1; j++) n += count[j];
    out->n = n; out->T = T; out->C = C;
    out->times = malloc((size_t)T * sizeof *out->times);
    out->y = malloc((size_t)(n * T) * sizeof *out->y);
    out->y_unit = malloc((size_t)(n * T) * sizeof *out->y_unit);
    out->cohort = malloc((size_t)(C > 0 ? C : 1) * sizeof *out->cohort);
    out->cohort_index = malloc((size_t)(C > 0 ? C : 1) * sizeof *out->cohort_index);
    out->start = malloc((size_t)(C + 2) * sizeof *out->start);
    out->unit_id = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->unit_id);
    int64_t *slot = malloc((size_t)(maxidx + 2) * sizeof *slot);  // cohort index → row cursor
    int64_t *cpos = malloc((size_t)(maxidx + 2) * sizeof *cpos);   // cohort index → cohort number
    if (!out->times || !out->y || !out->y_unit || !out->cohort || !out->cohort_index || !out->start || !out->unit_id || !slot || !cpos) {
        free(slot); free(cpos); free(count);
        rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory for a %lld x %lld panel", (long long)n, (long long)T);
        goto done;
    }
    for (int64_t j = 0; j < T; j++) out->times[j] = times[keep_t[j]];
    int64_t c = 0, row = 0;
    out->no_cells_from = C;
    for (int64_t j = 0; j <= maxidx; j++) {
        if (!count[j]) continue;
        out->cohort[c] = times[keep_t[j]];  // keep_t still indexes the original grid
        out->cohort_index[c] = j;
        if (j == no_cells_g) out->no_cells_from = c;
        out->start[c] = row; slot[j] = row; cpos[j] = c;
        row += count[j]; c++;
    }
    out->start[C] = row; slot[maxidx + 1] = row;
    out->start[C + 1] = n;
    for (int64_t i = 0; i < n_in; i++) {
        if (gidx[i] == -2) continue;
        int64_t r = slot[gidx[i] == -1 ? maxidx + 1 : gidx[i]]++;
        out->unit_id[r] = i;
        for (int64_t j = 0; j < T; j++) {
            double v = y[keep_t[j] * n_in + i];
            out->y[j * n + r] = v;
            out->y_unit[r * T + j] = v;
        }
    }
    free(slot); free(cpos); free(count);
done:
    free(keep_t);
    free(gidx);
    if (rc) estimate_panel_free(out);
    return rc;
}
