// cpu_matmul.c — the two GEMM forms the CPU backend needs, row-major, single-threaded:
//   matmul_transposed: out[M, N] = alpha · a[M, K] · b[N, K]ᵀ   (linear layers, q·kᵀ, LM head)
//   matmul_plain:      out[M, N] = a[M, K] · b[K, N]            (attention weights · v)
// OpenBLAS sgemm by default; with MEMPROF_NO_BLAS (make BLAS=none, the GPU-machine build
// where OpenBLAS is absent and too large to carry) a portable blocked kernel that the
// compiler vectorises. Either way a given call always runs the same code in the same order
// (on one machine: the portable kernel uses FMA where the CPU has it, x86-64-v3).
#include "cpu/cpu_internal.h"

#include <string.h>

#ifndef MEMPROF_NO_BLAS
#include <cblas.h>

void matmul_transposed(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda,
                       int64_t ldb, int64_t ldc, float alpha) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, alpha, a, (int)lda, b, (int)ldb, 0.0f,
                out, (int)ldc);
}

void matmul_plain(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                  int64_t ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, a, (int)lda, b, (int)ldb, 0.0f,
                out, (int)ldc);
}

void openblas_set_num_threads(int num_threads);  // OpenBLAS extension, not in every cblas.h

void matmul_use_one_thread(void) { openblas_set_num_threads(1); }

#else

// matmul_transposed: both operands run along k, so every output is a dot product. Each is
// computed the same way wherever it sits in the matrix (so a row's values do not depend on
// M or N): 8 lane sums over k (lane = k mod 8, GCC vector extension), added in a fixed tree,
// then the k tail in order. Speed comes from 3 × 4 outputs at a time (12 accumulators: each
// loaded vector of a feeds 4 products, each of b 3) over column blocks of b that stay in
// cache, and from FMA where the CPU has it (the x86-64-v3 clone; contraction is enabled for
// these kernels only, so their bits differ between CPUs with and without FMA).
enum { MICRO_ROWS = 3, MICRO_COLUMNS = 4, COLUMN_BLOCK = 64 };
typedef float float8 __attribute__((vector_size(32)));
// The helpers below are always inlined into the target clones, so the ABI of passing a
// float8 by value (what -Wpsabi warns about for the default target) never applies.
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC optimize("fp-contract=fast")

static inline __attribute__((always_inline)) float8 load8(const float *p) {
    float8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) float lanes_sum(float8 v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

static inline __attribute__((always_inline)) float dot_tail(float sum, const float *a, const float *b, int64_t from, int64_t K) {
    for (int64_t k = from; k < K; k++) sum += a[k] * b[k];
    return sum;
}

// One output, the reference order every path below follows.
static inline __attribute__((always_inline)) float dot(const float *a, const float *b, int64_t K) {
    int64_t K8 = K & ~(int64_t)7;
    float8 acc = {0};
    for (int64_t k = 0; k < K8; k += 8) acc += load8(a + k) * load8(b + k);
    return dot_tail(lanes_sum(acc), a, b, K8, K);
}

// out[i0..i0+3, j0..j0+4]: the same arithmetic as dot() for each of the 12 outputs. 3 × 4
// keeps the 12 accumulators, the 3 vectors of a and the current one of b in the 16 vector
// registers of AVX2 (4 × 4 spilled to the stack).
static inline __attribute__((always_inline)) void dot_3x4(float *out, const float *a, const float *b, int64_t i0,
                                                          int64_t j0, int64_t K, int64_t lda, int64_t ldb, int64_t ldc,
                                                          float alpha) {
    int64_t K8 = K & ~(int64_t)7;
    const float *a0 = a + i0 * lda, *a1 = a0 + lda, *a2 = a1 + lda;
    const float *b0 = b + j0 * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
    float8 c00 = {0}, c01 = {0}, c02 = {0}, c03 = {0}, c10 = {0}, c11 = {0}, c12 = {0}, c13 = {0};
    float8 c20 = {0}, c21 = {0}, c22 = {0}, c23 = {0};
    for (int64_t k = 0; k < K8; k += 8) {
        float8 x0 = load8(a0 + k), x1 = load8(a1 + k), x2 = load8(a2 + k), y;
        y = load8(b0 + k), c00 += x0 * y, c10 += x1 * y, c20 += x2 * y;
        y = load8(b1 + k), c01 += x0 * y, c11 += x1 * y, c21 += x2 * y;
        y = load8(b2 + k), c02 += x0 * y, c12 += x1 * y, c22 += x2 * y;
        y = load8(b3 + k), c03 += x0 * y, c13 += x1 * y, c23 += x2 * y;
    }
    const float8 sums[3][MICRO_COLUMNS] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}};
    const float *rows_a[3] = {a0, a1, a2}, *rows_b[MICRO_COLUMNS] = {b0, b1, b2, b3};
    for (int i = 0; i < MICRO_ROWS; i++)
        for (int j = 0; j < MICRO_COLUMNS; j++)
            out[(i0 + i) * ldc + j0 + j] = alpha * dot_tail(lanes_sum(sums[i][j]), rows_a[i], rows_b[j], K8, K);
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void matmul_transposed(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda,
                       int64_t ldb, int64_t ldc, float alpha) {
    for (int64_t jb = 0; jb < N; jb += COLUMN_BLOCK) {
        int64_t jb_end = jb + COLUMN_BLOCK < N ? jb + COLUMN_BLOCK : N;
        for (int64_t i0 = 0; i0 < M; i0 += MICRO_ROWS) {
            for (int64_t j0 = jb; j0 < jb_end; j0 += MICRO_COLUMNS) {
                if (i0 + MICRO_ROWS <= M && j0 + MICRO_COLUMNS <= jb_end) {
                    dot_3x4(out, a, b, i0, j0, K, lda, ldb, ldc, alpha);
                    continue;
                }
                for (int64_t i = i0; i < M && i < i0 + MICRO_ROWS; i++)
                    for (int64_t j = j0; j < jb_end && j < j0 + MICRO_COLUMNS; j++)
                        out[i * ldc + j] = alpha * dot(a + i * lda, b + j * ldb, K);
            }
        }
    }
}

// matmul_plain: out[i, n] = Σ_k a[i, k]·b[k, n], each output summed over k in order (one
// multiply-add per k, fused where the CPU has FMA), whatever the tiling. 4 rows × 16 columns
// at a time keep their 8 vector accumulators in registers over the whole k loop (the
// row-at-a-time form loaded and stored the output row at every k).
enum { PLAIN_ROWS = 4, PLAIN_COLUMNS = 16 };

__attribute__((target_clones("arch=x86-64-v3", "default")))
void matmul_plain(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                  int64_t ldc) {
    int64_t N16 = N - N % PLAIN_COLUMNS, M4 = M - M % PLAIN_ROWS;
    for (int64_t n0 = 0; n0 < N16; n0 += PLAIN_COLUMNS) {
        for (int64_t i0 = 0; i0 < M4; i0 += PLAIN_ROWS) {
            const float *a0 = a + i0 * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            float8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
            for (int64_t k = 0; k < K; k++) {
                float8 y0 = load8(b + k * ldb + n0), y1 = load8(b + k * ldb + n0 + 8);
                c00 += a0[k] * y0, c01 += a0[k] * y1;
                c10 += a1[k] * y0, c11 += a1[k] * y1;
                c20 += a2[k] * y0, c21 += a2[k] * y1;
                c30 += a3[k] * y0, c31 += a3[k] * y1;
            }
            const float8 sums[PLAIN_ROWS][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
            for (int i = 0; i < PLAIN_ROWS; i++) {
                memcpy(out + (i0 + i) * ldc + n0, &sums[i][0], sizeof sums[i][0]);
                memcpy(out + (i0 + i) * ldc + n0 + 8, &sums[i][1], sizeof sums[i][1]);
            }
        }
    }
    // The edges (rows past the last group of 4, columns past the last 16): the same sums.
    for (int64_t i = 0; i < M; i++)
        for (int64_t n = i < M4 ? N16 : 0; n < N; n++) {
            float sum = 0.0f;
            for (int64_t k = 0; k < K; k++) sum += a[i * lda + k] * b[k * ldb + n];
            out[i * ldc + n] = sum;
        }
}

void matmul_use_one_thread(void) {}

#endif
