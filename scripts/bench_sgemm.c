// bench_sgemm.c — OpenBLAS sgemm GFLOP/s at a GPT-NeoX model's forward GEMM shapes, the
// reference rate `scripts/bench-score.sh` compares memprof's end-to-end CPU scoring with.
//
// usage: bench_sgemm TOKENS HIDDEN FF VOCAB LAYERS THREADS REPEATS
// Shapes (M = TOKENS): QKV [M, 3d, d], attention out [M, d, d], MLP up [M, ff, d],
// MLP down [M, d, ff], LM head [M, V, d]; each timed REPEATS times, median reported, and
// the combined rate is Σ flops / Σ median seconds, weighted as one forward pass (L layers
// of the first four shapes plus one LM head).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s TOKENS HIDDEN FF VOCAB LAYERS THREADS REPEATS\n", argv[0]);
        return 2;
    }
    int M = atoi(argv[1]), d = atoi(argv[2]), ff = atoi(argv[3]), V = atoi(argv[4]), L = atoi(argv[5]);
    int threads = atoi(argv[6]), repeats = atoi(argv[7]);
    openblas_set_num_threads(threads);
    struct { const char *name; int n, k, count; } shapes[] = {
        {"qkv", 3 * d, d, L}, {"attention_out", d, d, L}, {"mlp_up", ff, d, L}, {"mlp_down", d, ff, L}, {"lm_head", V, d, 1}};
    double total_flops = 0, total_seconds = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s].n, k = shapes[s].k;
        float *a = malloc((size_t)M * k * sizeof(float)), *b = malloc((size_t)n * k * sizeof(float));
        float *c = malloc((size_t)M * n * sizeof(float));
        for (size_t i = 0; i < (size_t)M * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < (size_t)n * k; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        double *times = malloc((size_t)repeats * sizeof(double));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, n, k, 1.0f, a, k, b, k, 0.0f, c, n);  // warm-up
        for (int r = 0; r < repeats; r++) {
            double start = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
            times[r] = now() - start;
        }
        qsort(times, (size_t)repeats, sizeof(double), compare_double);
        double median = times[repeats / 2], flops = 2.0 * M * n * k;
        printf("sgemm %-14s M=%d N=%d K=%d: %.1f GFLOP/s (median of %d)\n", shapes[s].name, M, n, k,
               flops / median * 1e-9, repeats);
        total_flops += flops * shapes[s].count;
        total_seconds += median * shapes[s].count;
        free(a), free(b), free(c), free(times);
    }
    printf("sgemm combined (one forward pass's GEMM mix, %d threads): %.1f GFLOP/s\n", threads,
           total_flops / total_seconds * 1e-9);
    return 0;
}
