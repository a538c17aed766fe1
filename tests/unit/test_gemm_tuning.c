// test_gemm_tuning.c — the GEMM tuning file (cuda_gemm_tuning.c) without a GPU: keys name
// everything an algorithm depends on, lines round-trip, the first line for a key wins,
// malformed lines are ignored, and the file is created when absent.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#ifdef MEMPROF_CUDA
#include "cuda/cuda_gemm.h"
#include "cuda/cuda_gemm_tuning.h"
#include "cuda/cuda_kernels.h"

int main(void) {
    char directory[] = "/tmp/memprof-gemm-tuning-XXXXXX";
    if (mkdtemp(directory) == NULL) {
        CHECK("gemm tuning: temporary folder", 0, "mkdtemp failed");
        return 1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/tuning.txt", directory);
    memprof_error err = {0};

    char key[GEMM_TUNING_KEY_MAX], other[GEMM_TUNING_KEY_MAX], bias[GEMM_TUNING_KEY_MAX];
    gemm_tuning_key(key, "NVIDIA H100 80GB HBM3", 130100, CUDA_SCALAR_FP16, 15360, 5120, 88107, 0, 1);
    gemm_tuning_key(other, "NVIDIA H100\t80GB|HBM3", 130100, CUDA_SCALAR_BF16, 15360, 5120, 88107, 0, 1);
    gemm_tuning_key(bias, "NVIDIA H100 80GB HBM3", 130100, CUDA_SCALAR_FP16, 15360, 5120, 88107, 0, 0);
    CHECK("gemm tuning: key names GPU, version, type and shape",
          strcmp(key, "NVIDIA H100 80GB HBM3|cublasLt 130100|fp16|15360 out 5120 in 88107 rows|scalar out|bias") == 0,
          "%s", key);
    char accumulate[GEMM_TUNING_KEY_MAX], plain_float[GEMM_TUNING_KEY_MAX];
    gemm_tuning_key(accumulate, "NVIDIA H100 80GB HBM3", 130100, CUDA_SCALAR_FP16, 5120, 5120, 88107,
                    GEMM_OUTPUT_FLOAT_ACCUMULATE, 1);
    gemm_tuning_key(plain_float, "NVIDIA H100 80GB HBM3", 130100, CUDA_SCALAR_FP16, 5120, 5120, 88107, GEMM_OUTPUT_FLOAT, 0);
    CHECK("gemm tuning: an accumulating GEMM's key says so, apart from a plain fp32 output",
          strcmp(accumulate, "NVIDIA H100 80GB HBM3|cublasLt 130100|fp16|5120 out 5120 in 88107 rows|f32 += out|bias") == 0 &&
              strcmp(plain_float, "NVIDIA H100 80GB HBM3|cublasLt 130100|fp16|5120 out 5120 in 88107 rows|f32 out|no bias") == 0,
          "%s / %s", accumulate, plain_float);
    CHECK("gemm tuning: tabs and bars in the GPU name become spaces",
          strncmp(other, "NVIDIA H100 80GB HBM3|cublasLt 130100|bf16|", 43) == 0, "%s", other);

    FILE *file = NULL;
    uint64_t words[GEMM_TUNING_WORDS], found[GEMM_TUNING_WORDS], second[GEMM_TUNING_WORDS];
    for (int i = 0; i < GEMM_TUNING_WORDS; i++) words[i] = 0x0123456789abcdefull * (uint64_t)(i + 1), second[i] = (uint64_t)i;
    int status = gemm_tuning_open(&file, path, &err);
    CHECK("gemm tuning: an absent file is created", status == 0 && access(path, F_OK) == 0, "%s", err.message);
    if (status != 0) return 1;
    CHECK("gemm tuning: an empty file has no entry", gemm_tuning_find(found, file, key) == 0, "found");
    // A malformed line for the key, then the good one, then a later one for the same key.
    fseek(file, 0, SEEK_END);  // from reading to writing: a positioning call between
    fputs("garbage without a tab\n", file);
    fprintf(file, "%s\t0123 zz\n", key);
    CHECK("gemm tuning: append", gemm_tuning_append(file, key, words, &err) == 0, "%s", err.message);
    CHECK("gemm tuning: append a second line for the key", gemm_tuning_append(file, key, second, &err) == 0, "%s",
          err.message);
    CHECK("gemm tuning: append another key", gemm_tuning_append(file, other, second, &err) == 0, "%s", err.message);
    gemm_tuning_close(file);

    status = gemm_tuning_open(&file, path, &err);
    CHECK("gemm tuning: reopen", status == 0, "%s", err.message);
    if (status != 0) return 1;
    memset(found, 0, sizeof found);
    CHECK("gemm tuning: the first well-formed line for a key wins, all 8 words",
          gemm_tuning_find(found, file, key) == 1 && memcmp(found, words, sizeof words) == 0, "words differ");
    CHECK("gemm tuning: another key's line", gemm_tuning_find(found, file, other) == 1 && memcmp(found, second, sizeof second) == 0,
          "words differ");
    CHECK("gemm tuning: a key differing only in the epilogue is not found", gemm_tuning_find(found, file, bias) == 0,
          "found");
    gemm_tuning_close(file);
    // The lock: a second process opening the file waits until the holder has written its
    // line, then finds it (what makes every process run the first one's choice).
    char waiting_key[GEMM_TUNING_KEY_MAX];
    gemm_tuning_key(waiting_key, "NVIDIA H100 80GB HBM3", 130100, CUDA_SCALAR_FP16, 50304, 512, 8192, GEMM_OUTPUT_FLOAT, 0);
    status = gemm_tuning_open(&file, path, &err);
    int pipe_ends[2];
    if (status == 0 && pipe(pipe_ends) == 0) {
        pid_t child = fork();
        if (child == 0) {  // opens (blocks on the lock), looks the key up, reports 1 or 0
            FILE *mine = NULL;
            uint64_t seen[GEMM_TUNING_WORDS];
            char found_it = gemm_tuning_open(&mine, path, &err) == 0 && gemm_tuning_find(seen, mine, waiting_key) == 1;
            if (write(pipe_ends[1], &found_it, 1) != 1) _exit(2);
            _exit(0);
        }
        usleep(200 * 1000);  // the child is now waiting on the lock
        gemm_tuning_append(file, waiting_key, words, &err);
        gemm_tuning_close(file);
        char found_it = 0;
        ssize_t got = read(pipe_ends[0], &found_it, 1);
        int child_status = 0;
        waitpid(child, &child_status, 0);
        CHECK("gemm tuning: a second process waits for the lock holder's line and reads it", got == 1 && found_it == 1,
              "read %zd, found %d", got, (int)found_it);
        close(pipe_ends[0]), close(pipe_ends[1]);
    } else {
        CHECK("gemm tuning: open for the lock check", 0, "%s", err.message);
    }
    CHECK("gemm tuning: an unwritable place is an error",
          gemm_tuning_open(&file, "/nonexistent-folder/tuning.txt", &err) != 0 && strstr(err.message, "cannot open"),
          "%s", err.message);
    unlink(path);
    rmdir(directory);
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("gemm tuning", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
