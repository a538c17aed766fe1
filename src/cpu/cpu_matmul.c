// cpu_matmul.c — the two GEMM forms the CPU backend needs, row-major, single-threaded:
//   matmul_transposed: out[M, N] = alpha · a[M, K] · b[N, K]ᵀ   (linear layers, q·kᵀ, LM head)
//   matmul_plain:      out[M, N] = a[M, K] · b[K, N]            (attention weights · v)
// OpenBLAS sgemm by default; with MEMPROF_NO_BLAS (make BLAS=none, the GPU-machine build
// where OpenBLAS is absent and too large to carry) a portable blocked kernel that the
// compiler vectorises. Either way a given call always runs the same code in the same order.
#include "cpu/cpu_internal.h"

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

enum { ROW_BLOCK = 32 };

// Rows of a in blocks, so that each row of b is read once per block.
__attribute__((target_clones("avx2", "default")))
void matmul_transposed(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda,
                       int64_t ldb, int64_t ldc, float alpha) {
    for (int64_t i0 = 0; i0 < M; i0 += ROW_BLOCK) {
        int64_t i1 = i0 + ROW_BLOCK < M ? i0 + ROW_BLOCK : M;
        for (int64_t j = 0; j < N; j++) {
            const float *bj = b + j * ldb;
            for (int64_t i = i0; i < i1; i++) {
                const float *ai = a + i * lda;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int64_t k = 0; k < K; k++) sum += ai[k] * bj[k];
                out[i * ldc + j] = alpha * sum;
            }
        }
    }
}

__attribute__((target_clones("avx2", "default")))
void matmul_plain(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                  int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *oi = out + i * ldc;
        for (int64_t n = 0; n < N; n++) oi[n] = 0.0f;
        for (int64_t k = 0; k < K; k++) {
            float aik = a[i * lda + k];
            const float *bk = b + k * ldb;
#pragma omp simd
            for (int64_t n = 0; n < N; n++) oi[n] += aik * bk[n];
        }
    }
}

void matmul_use_one_thread(void) {}

#endif
