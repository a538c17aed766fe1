// test_estimate_coverage.c — coverage study: 200 seeded `memprof simulate` panels (4 cohorts
// x 50 instances + 200 held out, 6 checkpoints, planted decaying effect; panel seeds 1..200,
// bootstrap seed 1000 + panel seed, B = 1000, never-treated, varying base). The share of
// panels whose simultaneous (sup-t) band covers the whole true ATT(g,t) surface — pre cells
// (true 0) included — must lie in [0.90, 0.99] at alpha = 0.05.
#include <math.h>
#include <stdio.h>

#include "memprof/estimate.h"
#include "test.h"

int main(void) {
    simulate_options so;
    simulate_options_default(&so);
    so.n_cohorts = 4; so.per_cohort = 50; so.n_never = 200; so.n_checkpoints = 6;
    estimate_options o;
    estimate_options_default(&o);
    o.bootstrap = 1000; o.threads = 2; o.alpha = 0.05;
    int panels = 200, covered = 0, pointwise_covered_cells = 0, cells = 0, failed = 0;
    for (int seed = 1; seed <= panels; seed++) {
        so.seed = (uint64_t)seed;
        o.seed = 1000 + (uint64_t)seed;
        simulated_panel s;
        estimate_panel p;
        estimate_result r;
        panel_report rep;
        memprof_error err = {0};
        if (simulate_panel(&s, &so, &err) || estimate_panel_build(&p, &rep, s.y, s.cohort, s.times, s.n, s.T, &o, &err)) {
            failed++; printf("# seed %d: %s\n", seed, err.message); continue;
        }
        if (estimate_run(&r, &p, &o, &err)) { failed++; estimate_panel_free(&p); simulated_panel_free(&s); continue; }
        int all = 1;
        double z = normal_quantile(0.975);
        for (int64_t k = 0; k < r.K; k++) {
            // the estimand: ATT(g,t) − ATT(g,b) of the planted surface (0 before treatment)
            int64_t c = -1, t = -1, b = -1;
            for (int64_t j = 0; j < s.C; j++) if (s.times[j + 1] == r.cohort[k]) c = j;
            for (int64_t j = 0; j < s.T; j++) { if (s.times[j] == r.time[k]) t = j; if (s.times[j] == r.base[k]) b = j; }
            double truth = s.truth[c * s.T + t] - s.truth[c * s.T + b];
            all &= r.lower[k] <= truth && truth <= r.upper[k];
            pointwise_covered_cells += fabs(r.att[k] - truth) <= z * r.se[k];
            cells++;
        }
        covered += all;
        estimate_result_free(&r);
        estimate_panel_free(&p);
        simulated_panel_free(&s);
    }
    double share = (double)covered / panels;
    printf("# simultaneous band covers the whole surface in %d of %d panels (%.3f); pointwise cell coverage %.3f\n",
           covered, panels, share, (double)pointwise_covered_cells / (cells ? cells : 1));
    CHECK("coverage_runs", failed == 0, "%d panels failed", failed);
    CHECK("coverage_simultaneous_band_in_0.90_0.99", share >= 0.90 && share <= 0.99, "share %.3f", share);
    return test_failures ? 1 : 0;
}
