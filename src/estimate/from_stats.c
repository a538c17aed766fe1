// from_stats.c — stats.h5 → the wide arrays estimate_panel_build takes.
//
// Time grid: the checkpoint steps (optionally restricted to a given list), keeping only the
// checkpoints complete for every instance (no NaN in /stats/<metric>); the others are listed.
// Cohort of a training instance (split 0, train_step ≥ 0):
//   default: the first grid step c with c > train_step (checkpoint stepN has seen steps 0..N−1);
//   paper:   ceil(ceil(seq_idx/1024)/1000)·1000 (Lesci et al.; differs for seq_idx a multiple
//            of 1,024,000 and for seq_idx = 0).
// Held-out instances (split 1 or train_step < 0) are never treated.
// Shapes: values [C, N] → y [T, N] time-major over the kept checkpoints.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/estimate.h"
#include "memprof/store.h"

int estimate_load_stats(stats_panel *out, const char *path, const char *metric, const int64_t *steps, int64_t n_steps,
                        int paper_rule, memprof_error *err) {
    memset(out, 0, sizeof *out);
    stats_meta m;
    int rc = store_stats_read_meta(&m, path, err);
    if (rc) return rc;
    int64_t N = m.n_instances, C = m.n_checkpoints;
    double *values = malloc((size_t)(C * N + 1) * sizeof *values);
    int64_t *order = malloc((size_t)(C + 1) * sizeof *order);
    int64_t *by_step = malloc((size_t)(C + 1) * sizeof *by_step);
    if (!values || !order || !by_step) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory for %lld x %lld statistics", (long long)C, (long long)N); goto done; }
    if (stats_memorisation_sign(metric) == 0) {
        rc = error_set(err, MEMPROF_ERR, "unknown metric '%s' (sup_seq, acc_seq, entr_seq or avg_rank)", metric);
        goto done;
    }
    if ((rc = store_stats_read_metric(values, path, metric, err))) goto done;
    // The sweep may store checkpoints in any order: walk them by step (insertion sort, C is small).
    for (int64_t s = 0; s < C; s++) {
        int64_t j = s;
        while (j > 0 && m.step[by_step[j - 1]] > m.step[s]) { by_step[j] = by_step[j - 1]; j--; }
        by_step[j] = s;
    }
    for (int64_t s = 1; s < C; s++)
        if (m.step[by_step[s]] == m.step[by_step[s - 1]]) {
            rc = error_set(err, MEMPROF_ERR, "%s: checkpoint step %lld appears twice in /checkpoints/step", path, (long long)m.step[by_step[s]]);
            goto done;
        }
    for (int64_t j = 0; j < n_steps; j++) {
        int found = 0;
        for (int64_t s = 0; s < C && !found; s++) found = m.step[s] == steps[j];
        if (!found) { rc = error_set(err, MEMPROF_ERR, "--steps: step %lld is not a checkpoint of %s", (long long)steps[j], path); goto done; }
    }
    out->missing = calloc(1, 1);
    if (!out->missing) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
    size_t mlen = 0;
    int64_t T = 0;
    for (int64_t q = 0; q < C; q++) {
        int64_t s = by_step[q];
        int wanted = n_steps == 0;
        for (int64_t j = 0; j < n_steps && !wanted; j++) wanted = steps[j] == m.step[s];
        if (!wanted) continue;
        int64_t nan_count = 0;
        for (int64_t i = 0; i < N; i++) nan_count += isnan(values[s * N + i]);
        if (nan_count) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%s%lld", mlen ? "," : "", (long long)m.step[s]);
            char *grown = realloc(out->missing, mlen + (size_t)len + 1);
            if (!grown) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
            out->missing = grown;
            memcpy(out->missing + mlen, buf, (size_t)len + 1);
            mlen += (size_t)len;
            out->n_missing++;
            continue;
        }
        order[T++] = s;
    }
    if (T < 2) { rc = error_set(err, MEMPROF_ERR, "%s: fewer than 2 checkpoints are complete for %s (incomplete: %s)", path, metric, out->missing); goto done; }
    out->y = malloc((size_t)(T * N) * sizeof *out->y);
    out->cohort = malloc((size_t)(N ? N : 1) * sizeof *out->cohort);
    out->times = malloc((size_t)T * sizeof *out->times);
    if (!out->y || !out->cohort || !out->times) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
    for (int64_t j = 0; j < T; j++) {
        out->times[j] = m.step[order[j]];
        memcpy(out->y + j * N, values + order[j] * N, (size_t)N * sizeof *values);
    }
    for (int64_t i = 0; i < N; i++) {
        if (m.split[i] != 0 || m.train_step[i] < 0) { out->cohort[i] = NAN; continue; }
        if (paper_rule) {
            int64_t batch = (m.seq_idx[i] + 1023) / 1024;   // ceil(i/1024) for i ≥ 0
            out->cohort[i] = (double)(((batch + 999) / 1000) * 1000);
        } else {
            out->cohort[i] = NAN;   // trained after the last checkpoint: never treated within the panel
            for (int64_t j = 0; j < T; j++)
                if (out->times[j] > m.train_step[i]) { out->cohort[i] = (double)out->times[j]; break; }
        }
    }
    out->n = N; out->T = T;
    snprintf(out->model, sizeof out->model, "%s", m.model);
done:
    stats_meta_free(&m);
    free(values); free(order); free(by_step);
    if (rc) stats_panel_free(out);
    return rc;
}

void stats_panel_free(stats_panel *s) {
    free(s->y); free(s->cohort); free(s->times); free(s->missing);
    memset(s, 0, sizeof *s);
}
