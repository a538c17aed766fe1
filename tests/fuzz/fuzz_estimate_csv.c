// fuzz_estimate_csv.c — arbitrary bytes as a long-format panel CSV (columns u,t,g,y; never
// treated = empty or 0) through the reader, the preprocessing and the estimator (analytic, and
// a small bootstrap). Anything may be rejected; nothing may crash or leak.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "memprof/estimate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[] = "/tmp/fuzz_estimate_csv_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    FILE *f = fdopen(fd, "wb");
    if (!f) { close(fd); unlink(path); return 0; }
    fwrite(data, 1, size, f);
    fclose(f);
    double *y = NULL, *g = NULL;
    int64_t *times = NULL, n = 0, T = 0;
    memprof_error err = {0};
    if (estimate_read_csv(&y, &g, &times, &n, &T, path, "u", "t", "g", "y", "0", &err) == 0) {
        if (n * T <= 100000) {
            for (int variant = 0; variant < 2; variant++) {
                estimate_options o;
                estimate_options_default(&o);
                o.control = variant ? CONTROL_NOT_YET_TREATED : CONTROL_NEVER_TREATED;
                o.base = variant ? BASE_UNIVERSAL : BASE_VARYING;
                o.anticipation = variant;
                o.bootstrap = variant ? 20 : 0;
                o.bootstrap_aggregates = variant;
                estimate_panel p;
                panel_report rep;
                estimate_result r;
                if (estimate_panel_build(&p, &rep, y, g, times, n, T, &o, &err) == 0) {
                    if (estimate_run(&r, &p, &o, &err) == 0) estimate_result_free(&r);
                    estimate_panel_free(&p);
                }
            }
        }
        free(y); free(g); free(times);
    }
    unlink(path);
    return 0;
}
