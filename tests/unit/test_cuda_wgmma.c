// test_cuda_wgmma.c — the wgmma layer (src/cuda/cuda_wgmma.cuh) against a product computed
// here: one warpgroup multiplies a [64 × 32] by b [32 × 64] (two k16 steps, the second
// accumulating) with each form the attention kernel uses — A and B K-major from shared memory
// (S = Q·Kᵀ), and A from registers with B MN-major (O += P·V) — in fp16 and bf16, with the
// tiles in the no-swizzle layout and in each swizzled one (32, 64, 128 bytes). Inputs
// are multiples of 1/4 in [−4, 4], so every product and sum is exact in fp32: D must equal
// the reference bit for bit, which any misplaced element, descriptor field or register breaks.
// On a mismatch the test reruns the product with the descriptor's two byte offsets exchanged
// and says whether that reading matches (the diagnosis for a wrong LBO/SBO convention).
// Needs an sm_90 GPU and a build with CUDA_ARCH 90: reports SKIP otherwise. Built with
// tests/emulator instead (test_cuda_wgmma_emulated) it checks the emulator's wgmma.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_kernels.h"

#ifdef MEMPROF_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_kernels.h"
#include "model/half.h"

enum { M = 64, N = 64, K = 32 };

static uint16_t to_bits(float value, int scalar_type) {
    if (scalar_type == CUDA_SCALAR_FP16) return float_to_half_bits(value);
    uint32_t wide;
    memcpy(&wide, &value, 4);
    return (uint16_t)(wide >> 16);  // exact: the values have few significant bits
}

// Runs the probe; returns the number of elements that differ from `expected` (−1: no launch).
static int run_probe(float *got, const uint16_t *a_device, const uint16_t *b_device, float *d_device, int form,
                     int variant, int width, int scalar_type, const double *expected, int *first_bad) {
    cudaMemset(d_device, 0xff, M * N * 4);
    if (cuda_wgmma_probe(d_device, a_device, b_device, form, variant, width, scalar_type, NULL) != 0) return -1;
    if (cudaDeviceSynchronize() != cudaSuccess) return -1;
    if (cudaMemcpy(got, d_device, M * N * 4, cudaMemcpyDeviceToHost) != cudaSuccess) return -1;
    int bad = 0;
    *first_bad = -1;
    for (int i = 0; i < M * N; i++)
        if (!((double)got[i] == expected[i])) {
            if (*first_bad < 0) *first_bad = i;
            bad++;
        }
    return bad;
}

static void check_form(int form, int width, int scalar_type) {
    static const char *forms[] = {"A and B K-major from shared memory", "A from registers, B MN-major"};
    char name[200], layout[40] = "no swizzle";
    if (width) snprintf(layout, sizeof layout, "%d-byte swizzle", width);
    snprintf(name, sizeof name, WHERE "wgmma m64n64k16 x2, %s, %s, %s", forms[form], layout,
             scalar_type == CUDA_SCALAR_FP16 ? "fp16" : "bf16");
    uint16_t a[M * K], b[K * N];
    float av[M * K], bv[K * N], got[M * N];
    double expected[M * N];
    uint64_t state = (uint64_t)(7 + 2 * form + scalar_type);
    for (int i = 0; i < M * K; i++) av[i] = (float)((int)(next_random(&state) % 33) - 16) / 4.0f;
    for (int i = 0; i < K * N; i++) bv[i] = (float)((int)(next_random(&state) % 33) - 16) / 4.0f;
    for (int i = 0; i < M * K; i++) a[i] = to_bits(av[i], scalar_type);
    for (int i = 0; i < K * N; i++) b[i] = to_bits(bv[i], scalar_type);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double sum = 0;
            for (int k = 0; k < K; k++) sum += (double)av[m * K + k] * bv[k * N + n];
            expected[m * N + n] = sum;
        }
    uint16_t *a_device = NULL, *b_device = NULL;
    float *d_device = NULL;
    cudaError_t status = cudaMalloc((void **)&a_device, sizeof a);
    if (status == cudaSuccess) status = cudaMalloc((void **)&b_device, sizeof b);
    if (status == cudaSuccess) status = cudaMalloc((void **)&d_device, M * N * 4);
    if (status == cudaSuccess) status = cudaMemcpy(a_device, a, sizeof a, cudaMemcpyHostToDevice);
    if (status == cudaSuccess) status = cudaMemcpy(b_device, b, sizeof b, cudaMemcpyHostToDevice);
    int first_bad = -1;
    int bad = status == cudaSuccess ? run_probe(got, a_device, b_device, d_device, form, 0, width, scalar_type, expected, &first_bad)
                                    : -1;
    if (bad < 0) {
        CHECK(name, 0, "the probe did not run: %s", status != cudaSuccess ? cudaGetErrorString(status) : "launch failed");
    } else {
        int m = first_bad / N, n = first_bad % N;
        char diagnosis[200] = "";
        int variants = bad == 0 ? 0 : form == 0 ? 3 : 1;
        for (int variant = 1; variant <= variants; variant++) {
            float other[M * N];
            int other_first = -1;
            if (run_probe(other, a_device, b_device, d_device, form, variant, width, scalar_type, expected, &other_first) == 0)
                snprintf(diagnosis, sizeof diagnosis, "; with LBO and SBO exchanged in %s's descriptor it matches",
                         variant == 1 ? "B" : variant == 2 ? "A" : "both operands");
        }
        CHECK(name, bad == 0, "%d of %d elements differ; first (m %d, n %d): %g, expected %g%s", bad, M * N, m, n,
              bad ? got[first_bad] : 0.0, bad ? expected[first_bad] : 0.0, diagnosis);
    }
    cudaFree(a_device), cudaFree(b_device), cudaFree(d_device);
}

int main(void) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        SKIP("cuda wgmma", "no CUDA device is available");
        return 0;
    }
    if (!cuda_wgmma_available()) {
        SKIP("cuda wgmma", "the device is not compute capability 9.x or this build has no sm_90a code");
        return 0;
    }
    for (int scalar = CUDA_SCALAR_FP16; scalar <= CUDA_SCALAR_BF16; scalar++)
        for (int form = 0; form < 2; form++)
            for (int width = 0; width <= 128; width = width ? 2 * width : 32) check_form(form, width, scalar);
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("cuda wgmma", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
