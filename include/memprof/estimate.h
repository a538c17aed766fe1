// estimate.h — Callaway & Sant'Anna (2021) staggered difference-in-differences,
// no covariates (dr = reg = std_ipw coincide; see docs/estimator.md), balanced panels.
//
// Pipeline: a wide panel (outcome [T, n] time-major, cohort per unit) is
// preprocessed with R `did` 2.5 rules into an estimate_panel (units sorted by
// cohort), then estimate_run computes every ATT(g,t), its analytic SE, the
// multiplier bootstrap, the aggregations and the Wald pre-test from per-cohort
// sufficient statistics: no n×K influence-function matrix is ever formed.
//
// Shapes: n units, T periods, C treated cohorts (+1 never-treated group last),
// K cells, B bootstrap draws.
#ifndef MEMPROF_ESTIMATE_H
#define MEMPROF_ESTIMATE_H

#include <stdint.h>

#include "memprof/error.h"
#include "memprof/progress.h"

typedef enum { CONTROL_NEVER_TREATED = 0, CONTROL_NOT_YET_TREATED = 1 } estimate_control;
typedef enum { BASE_VARYING = 0, BASE_UNIVERSAL = 1 } estimate_base;

typedef struct estimate_options {
    estimate_control control;
    estimate_base base;
    int anticipation;          // δ, in periods of the time grid
    double alpha;              // 0.05
    int64_t bootstrap;         // B draws; 0 = analytic only
    uint64_t seed;
    int threads;               // bootstrap threads (results do not depend on it)
    int bootstrap_aggregates;  // bootstrap SEs + sup-t bands for aggregations too
    // R aggte window options (event study: calendar units; simple/cohort: max_e in grid periods)
    double min_e, max_e;       // -INFINITY / INFINITY = none
    int has_balance_e;
    double balance_e;
    // cohort / time window applied to the panel before estimation (INT64_MIN/INT64_MAX = none)
    int64_t min_cohort, max_cohort, min_time, max_time;
    const progress_reporter *progress;  // NULL = silent; hears the bootstrap draws done
} estimate_options;

void estimate_options_default(estimate_options *opt);

// What preprocessing did (for the user and the tests).
typedef struct panel_report {
    int64_t units_in;            // units seen
    int64_t dropped_missing;     // units with any missing period (R's balancing rule)
    int64_t dropped_early;       // units treated at or before t_1 + δ
    int64_t recoded_late;        // units treated after the last period → never treated
    int64_t dropped_window;      // units outside the cohort window
    int coerced_last_cohort;     // no never-treated units: last cohort became the control (R)
    int64_t coerced_cohort;      // which cohort value that was
} panel_report;

// Balanced panel after preprocessing; units sorted by cohort (never-treated last).
typedef struct estimate_panel {
    int64_t n, T, C;
    int64_t *times;         // [T] ascending calendar values
    double *y;              // [T, n] time-major
    double *y_unit;         // [n, T] unit-major copy (the bootstrap walks rows)
    int64_t *cohort;        // [C] cohort values (calendar), ascending
    int64_t *cohort_index;  // [C] index of each cohort in times
    int64_t *start;         // [C + 2] units of cohort c are [start[c], start[c+1]); c = C is never
    int64_t *unit_id;       // [n] caller's unit index of each row (for reports)
    int64_t no_cells_from;  // cohorts with index ≥ this get no cells (R's coerced last cohort); = C normally
} estimate_panel;

// Builds the panel. y: [T, n_in] time-major, NaN = missing; cohort: [n_in] calendar value of the
// first treated period or NAN / INFINITY for never treated; times: [T] strictly ascending.
int estimate_panel_build(estimate_panel *out, panel_report *report, const double *y, const double *cohort,
                         const int64_t *times, int64_t n_in, int64_t T, const estimate_options *opt,
                         memprof_error *err);
void estimate_panel_free(estimate_panel *p);

// One aggregated parameter (a row of an agg_*.csv).
typedef struct agg_row {
    int64_t key;        // cohort, time or relative period; unused for simple/overall
    int is_overall;
    double att, se, lower, upper;
    int significant;    // band / interval excludes 0
} agg_row;

typedef struct agg_table {
    int64_t n_rows;     // keyed rows + 1 overall row (simple: 1 row)
    agg_row *rows;
    double crit;        // critical value used for keyed rows
} agg_table;

enum { AGG_SIMPLE = 0, AGG_COHORT = 1, AGG_TIME = 2, AGG_EVENT = 3, AGG_COUNT = 4 };

typedef struct estimate_result {
    int64_t K;
    int64_t *cohort, *base, *time;   // [K] calendar values
    double *att, *se, *lower, *upper;// [K]; se is the bootstrap SE when B > 0
    double *se_analytic;             // [K]
    int *significant;                // [K]
    int64_t *n_treated, *n_control;  // [K]
    double crit;                     // critical value of the ATT(g,t) intervals
    int64_t n;                       // units
    agg_table agg[AGG_COUNT];
    // Wald pre-test of parallel pre-trends (NaN when not computed)
    double wald_stat, wald_pvalue;
    int64_t wald_df;
    const char *wald_note;           // why it was skipped, or NULL
    int64_t failed_cells;            // cells with NA ATT (no controls / overlap guard)
    // the paper's "simple difference": [C, T] raw cohort × time, NaN where unused
    double *simple_difference;
} estimate_result;

int estimate_run(estimate_result *out, const estimate_panel *p, const estimate_options *opt, memprof_error *err);
void estimate_result_free(estimate_result *r);

// Writes attgt.csv, agg_{simple,cohort,time,event}.csv and simple_difference.csv into dir (created).
int estimate_write_csv(const char *dir, const estimate_result *r, const estimate_panel *p, memprof_error *err);

// Long-format CSV → wide arrays for estimate_panel_build. Columns are named by header.
// never_value: a cohort string that means never treated (NULL: only empty cells).
// Outputs are malloc'd: y [T, n] time-major (NaN where a unit lacks a period), cohort [n], times [T].
int estimate_read_csv(double **y, double **cohort, int64_t **times, int64_t *n, int64_t *T, const char *path,
                      const char *unit_col, const char *time_col, const char *cohort_col, const char *outcome_col,
                      const char *never_value, memprof_error *err);

// A stats.h5 metric as wide arrays (see src/estimate/from_stats.c for the cohort rules).
typedef struct stats_panel {
    int64_t n, T;
    double *y;          // [T, n] time-major, complete checkpoints only
    double *cohort;     // [n] NaN = never treated
    int64_t *times;     // [T] checkpoint steps
    char *missing;      // comma-separated steps left out as incomplete ("" if none)
    int64_t n_missing;
    char model[256];
} stats_panel;

// steps [n_steps]: restrict the grid to these checkpoint steps (n_steps 0: all).
int estimate_load_stats(stats_panel *out, const char *path, const char *metric, const int64_t *steps, int64_t n_steps,
                        int paper_rule, memprof_error *err);
void stats_panel_free(stats_panel *s);

// A simulated panel with a planted ATT(g,t) surface (`memprof simulate`, tests, demo).
// Grid: steps j·interval, j = 0..n_checkpoints−1. Treated cohorts are the grid steps 1..n_cohorts;
// an instance of cohort step s_j was trained at a uniform step in [s_{j−1}, s_j).
//   Y_it = level + α_i + τ_t + ATT(G_i, t) + ε_it,  α ~ N(0, unit_sd²), ε ~ N(0, noise²),
//   τ_t = trend·exp(−j/10),  ATT(g,t) = persistent + (effect − persistent)·decay^(j_t − j_g) for t ≥ g, else 0.
typedef struct simulate_options {
    int64_t n_cohorts, per_cohort, n_never, n_checkpoints, interval;
    double effect, persistent, decay, noise, unit_sd, trend, level;
    uint64_t seed;
} simulate_options;

typedef struct simulated_panel {
    int64_t n, T, C;
    double *y;            // [T, n]
    double *cohort;       // [n] NaN = never treated
    int64_t *times;       // [T]
    int64_t *seq_idx, *train_step;  // [n]
    uint8_t *split;       // [n]
    double *truth;        // [C, T] planted ATT(g, t) (raw, not sign-flipped)
} simulated_panel;

void simulate_options_default(simulate_options *opt);
int simulate_panel(simulated_panel *out, const simulate_options *opt, memprof_error *err);
void simulated_panel_free(simulated_panel *s);

// Critical values and distributions used by the estimator (exposed for tests).
double normal_quantile(double p);
double chisq_upper_tail(double x, double df);

#endif
