// test_matmul_portable.c — the portable GEMM kernel of cpu_matmul.c (what `make BLAS=none`,
// the GPU-machine build, uses instead of OpenBLAS), compiled into this test whatever the
// build: both forms against a double-precision product on shapes that straddle the 4 × 4
// micro tiles, the 64-column blocks and the 8-lane k steps; and every output of either the
// same bits whatever M and N (a row's values must not depend on what else is in the call).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define MEMPROF_NO_BLAS
#define matmul_transposed portable_matmul_transposed
#define matmul_plain portable_matmul_plain
#define matmul_use_one_thread portable_matmul_use_one_thread
#include "../../src/cpu/cpu_matmul.c"

static float uniform(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*state >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

static float *random_matrix(int64_t count, uint64_t seed) {
    float *m = malloc((size_t)count * sizeof *m);
    for (int64_t i = 0; m && i < count; i++) m[i] = uniform(&seed);
    return m;
}

// Worst |out − alpha·exact| / bound over the matrix, bound = γ(K)·|alpha|·Σ|a||b| with
// γ(K) = (K + 1)·2⁻²⁴ (the classical dot-product bound; lane sums only make the real error
// smaller). b's element (k, j) is b[j·column_stride + k·k_stride].
static double worst_error(const float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K,
                          int64_t column_stride, int64_t k_stride, float alpha) {
    double worst = 0.0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double exact = 0.0, magnitude = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double product = (double)a[i * K + k] * b[j * column_stride + k * k_stride];
                exact += product;
                magnitude += fabs(product);
            }
            double bound = ((double)K + 1.0) * 0x1.0p-24 * magnitude * fabs(alpha) + 1e-30;
            double ratio = fabs(out[i * N + j] - alpha * exact) / bound;
            if (ratio > worst) worst = ratio;
        }
    return worst;
}

static void check_transposed(int64_t M, int64_t N, int64_t K) {
    float *a = random_matrix(M * K, 11 + (uint64_t)M), *b = random_matrix(N * K, 17 + (uint64_t)N);
    float *out = calloc((size_t)(M * N), sizeof *out), *row = calloc((size_t)N, sizeof *row);
    float *column = calloc((size_t)M, sizeof *column);
    char name[160];
    snprintf(name, sizeof name, "portable matmul_transposed %lld x %lld x %lld: within the dot-product bound",
             (long long)M, (long long)N, (long long)K);
    portable_matmul_transposed(out, a, b, M, N, K, K, K, N, 0.125f);
    double worst = worst_error(out, a, b, M, N, K, K, 1, 0.125f);
    CHECK(name, worst <= 1.0, "worst error %.3f of the bound", worst);

    // Row M−1 alone (M = 1) and column N−1 alone (N = 1): the same bits as in the full call.
    portable_matmul_transposed(row, a + (M - 1) * K, b, 1, N, K, K, K, N, 0.125f);
    portable_matmul_transposed(column, a, b + (N - 1) * K, M, 1, K, K, K, 1, 0.125f);
    int same = memcmp(row, out + (M - 1) * N, (size_t)N * sizeof *row) == 0;
    for (int64_t i = 0; i < M; i++) same = same && memcmp(&column[i], &out[i * N + N - 1], sizeof column[i]) == 0;
    snprintf(name, sizeof name, "portable matmul_transposed %lld x %lld x %lld: a row or column alone, same bits",
             (long long)M, (long long)N, (long long)K);
    CHECK(name, same, "values differ from the full call");
    free(a), free(b), free(out), free(row), free(column);
}

static void check_plain(int64_t M, int64_t N, int64_t K) {
    float *a = random_matrix(M * K, 23), *b = random_matrix(K * N, 29), *out = calloc((size_t)(M * N), sizeof *out);
    portable_matmul_plain(out, a, b, M, N, K, K, N, N);
    double worst = worst_error(out, a, b, M, N, K, 1, N, 1.0f);
    char name[160];
    snprintf(name, sizeof name, "portable matmul_plain %lld x %lld x %lld: within the dot-product bound", (long long)M,
             (long long)N, (long long)K);
    CHECK(name, worst <= 1.0, "worst error %.3f of the bound", worst);

    // Row 0 alone (M = 1: the edge path) and the first column alone (N = 1): the same bits as
    // in the full call (the 4 × 16 tiles wherever M ≥ 4 and N ≥ 16).
    float *row = calloc((size_t)N, sizeof *row), *column = calloc((size_t)M, sizeof *column);
    portable_matmul_plain(row, a, b, 1, N, K, K, N, N);
    portable_matmul_plain(column, a, b, M, 1, K, K, N, 1);
    int same = memcmp(row, out, (size_t)N * sizeof *row) == 0;
    for (int64_t i = 0; i < M; i++) same = same && memcmp(&column[i], &out[i * N], sizeof column[i]) == 0;
    snprintf(name, sizeof name, "portable matmul_plain %lld x %lld x %lld: a row or column alone, same bits",
             (long long)M, (long long)N, (long long)K);
    CHECK(name, same, "values differ from the full call");
    free(a), free(b), free(out), free(row), free(column);
}

int main(void) {
    // M and N around the 4 × 4 tiles and the 64-column blocks; K around the 8-lane steps.
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 4, 8}, {5, 9, 15}, {7, 63, 16}, {9, 65, 17},
                                 {17, 130, 64}, {33, 70, 129}, {64, 128, 512}, {8, 16, 3}, {13, 48, 200}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        check_transposed(shapes[s][0], shapes[s][1], shapes[s][2]);
        check_plain(shapes[s][0], shapes[s][1], shapes[s][2]);
    }
    return test_failures != 0;
}
