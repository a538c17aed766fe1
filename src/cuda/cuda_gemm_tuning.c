// cuda_gemm_tuning.c — the GEMM tuning file's format and locking (see the header).
#include "cuda/cuda_gemm_tuning.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cuda/cuda_gemm.h"
#include "cuda/cuda_kernels.h"

void gemm_tuning_key(char out[GEMM_TUNING_KEY_MAX], const char *gpu_name, size_t cublaslt_version, int scalar_type,
                     int out_dim, int in_dim, int64_t selection_rows, int output_type, int has_bias) {
    char name[256];
    snprintf(name, sizeof name, "%s", gpu_name);
    for (char *c = name; *c; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r' || *c == '|') *c = ' ';
    snprintf(out, GEMM_TUNING_KEY_MAX, "%s|cublasLt %zu|%s|%d out %d in %" PRId64 " rows|%s out|%s", name,
             cublaslt_version, scalar_type == CUDA_SCALAR_BF16 ? "bf16" : "fp16", out_dim, in_dim, selection_rows,
             output_type == GEMM_OUTPUT_FLOAT_ACCUMULATE ? "f32 +=" : output_type == GEMM_OUTPUT_FLOAT ? "f32" : "scalar",
             has_bias ? "bias" : "no bias");
}

int gemm_tuning_open(FILE **out, const char *path, memprof_error *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open the GEMM tuning file: %s", path, strerror(errno));
    int locked;
    while ((locked = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {}
    if (locked != 0) {
        int saved = errno;
        close(fd);
        return error_set(err, MEMPROF_ERR, "%s: cannot lock the GEMM tuning file: %s", path, strerror(saved));
    }
    FILE *file = fdopen(fd, "r+");
    if (file == NULL) {
        close(fd);
        return error_set(err, MEMPROF_ERR, "%s: cannot open the GEMM tuning file", path);
    }
    *out = file;
    return 0;
}

void gemm_tuning_close(FILE *file) {
    if (file == NULL) return;
    fflush(file);
    flock(fileno(file), LOCK_UN);
    fclose(file);
}

int gemm_tuning_find(uint64_t words[GEMM_TUNING_WORDS], FILE *file, const char *key) {
    char line[GEMM_TUNING_KEY_MAX + GEMM_TUNING_WORDS * 17 + 16];
    size_t key_length = strlen(key);
    rewind(file);
    while (fgets(line, sizeof line, file) != NULL) {
        if (strncmp(line, key, key_length) != 0 || line[key_length] != '\t') continue;
        const char *at = line + key_length + 1;
        uint64_t parsed[GEMM_TUNING_WORDS];
        int count = 0;
        for (; count < GEMM_TUNING_WORDS; count++) {
            char *end;
            errno = 0;
            unsigned long long value = strtoull(at, &end, 16);
            if (end == at || errno != 0) break;
            parsed[count] = (uint64_t)value;
            at = end;
        }
        while (*at == ' ') at++;
        if (count != GEMM_TUNING_WORDS || (*at != '\n' && *at != '\0')) continue;  // malformed: ignored
        memcpy(words, parsed, sizeof parsed);
        return 1;
    }
    return 0;
}

int gemm_tuning_append(FILE *file, const char *key, const uint64_t words[GEMM_TUNING_WORDS], memprof_error *err) {
    if (fseek(file, 0, SEEK_END) != 0) return error_set(err, MEMPROF_ERR, "GEMM tuning file: cannot seek");
    int ok = fprintf(file, "%s\t", key) > 0;
    for (int i = 0; ok && i < GEMM_TUNING_WORDS; i++)
        ok = fprintf(file, "%016" PRIx64 "%s", words[i], i + 1 < GEMM_TUNING_WORDS ? " " : "\n") > 0;
    if (!ok || fflush(file) != 0 || fsync(fileno(file)) != 0)
        return error_set(err, MEMPROF_ERR, "GEMM tuning file: cannot write the line for %s", key);
    return 0;
}
