// test_estimate_store.c — stats.h5 round trip through src/store and estimate's loader: the
// instance and checkpoint axes read back as written, and a file whose checkpoints are stored
// out of step order (as a sweep may write them) loads exactly like the ordered one.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof/estimate.h"
#include "memprof/store.h"
#include "test.h"

int main(void) {
    simulate_options so;
    simulate_options_default(&so);
    so.n_cohorts = 3; so.per_cohort = 20; so.n_never = 30; so.n_checkpoints = 6; so.seed = 4;
    simulated_panel s;
    memprof_error err = {0};
    if (simulate_panel(&s, &so, &err)) { CHECK("simulate", 0, "%s", err.message); return 1; }
    char dir[] = "/tmp/test_estimate_store_XXXXXX";
    if (!mkdtemp(dir)) { CHECK("mkdtemp", 0, "cannot make a temporary folder"); return 1; }
    char ordered[256], shuffled[256];
    snprintf(ordered, sizeof ordered, "%s/ordered.h5", dir);
    snprintf(shuffled, sizeof shuffled, "%s/shuffled.h5", dir);

    stats_meta m = {.n_instances = s.n, .n_checkpoints = s.T, .seq_idx = s.seq_idx, .split = s.split,
                    .train_step = s.train_step, .step = s.times};
    snprintf(m.model, sizeof m.model, "pythia-test");
    const double *metrics[STATS_N_METRICS] = {s.y, NULL, NULL, NULL};
    int ok = store_stats_write(ordered, &m, metrics, 16, "test", &err) == 0;

    // checkpoints in the order 3, 0, 5, 1, 4, 2
    int64_t perm[6] = {3, 0, 5, 1, 4, 2}, steps[6];
    double *y2 = malloc((size_t)(s.T * s.n) * sizeof *y2);
    for (int64_t j = 0; j < s.T; j++) {
        steps[j] = s.times[perm[j]];
        memcpy(y2 + j * s.n, s.y + perm[j] * s.n, (size_t)s.n * sizeof *y2);
    }
    stats_meta m2 = m;
    m2.step = steps;
    const double *metrics2[STATS_N_METRICS] = {y2, NULL, NULL, NULL};
    ok = ok && store_stats_write(shuffled, &m2, metrics2, 16, "test", &err) == 0;
    CHECK("stats_write", ok, "%s", err.message);

    stats_meta back;
    if (store_stats_read_meta(&back, ordered, &err) == 0) {
        int same = back.n_instances == s.n && back.n_checkpoints == s.T && strcmp(back.model, "pythia-test") == 0 &&
                   memcmp(back.seq_idx, s.seq_idx, (size_t)s.n * sizeof(int64_t)) == 0 &&
                   memcmp(back.train_step, s.train_step, (size_t)s.n * sizeof(int64_t)) == 0 &&
                   memcmp(back.split, s.split, (size_t)s.n) == 0 && memcmp(back.step, s.times, (size_t)s.T * sizeof(int64_t)) == 0;
        CHECK("stats_meta_round_trip", same, "axes differ after the round trip");
        stats_meta_free(&back);
    } else CHECK("stats_meta_round_trip", 0, "%s", err.message);

    stats_panel a, b;
    int la = estimate_load_stats(&a, ordered, "sup_seq", NULL, 0, 0, &err) == 0;
    int lb = la && estimate_load_stats(&b, shuffled, "sup_seq", NULL, 0, 0, &err) == 0;
    if (la && lb) {
        int same = a.n == b.n && a.T == b.T && memcmp(a.times, b.times, (size_t)a.T * sizeof(int64_t)) == 0 &&
                   memcmp(a.y, b.y, (size_t)(a.T * a.n) * sizeof(double)) == 0;
        for (int64_t i = 0; same && i < a.n; i++)
            same = (isnan(a.cohort[i]) && isnan(b.cohort[i])) || a.cohort[i] == b.cohort[i];
        // and the cohorts are the simulated ones (first checkpoint after train_step)
        for (int64_t i = 0; same && i < a.n; i++)
            same = (isnan(a.cohort[i]) && isnan(s.cohort[i])) || a.cohort[i] == s.cohort[i];
        CHECK("stats_unordered_checkpoints_load_like_ordered", same, "loaded panels differ");
        stats_panel_free(&b);
    } else CHECK("stats_unordered_checkpoints_load_like_ordered", 0, "%s", err.message);
    if (la) stats_panel_free(&a);

    unlink(ordered); unlink(shuffled); rmdir(dir);
    free(y2);
    simulated_panel_free(&s);
    return test_failures ? 1 : 0;
}
