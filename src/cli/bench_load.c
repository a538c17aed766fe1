// bench_load.c — how fast a checkpoint gets from its files into a backend's weights, next to
// a plain read() of the same files: the "load time as GB/s, next to a plain read".
//
// Each run: checkpoint_open (maps and hashes every file), the backend's load (for the CUDA
// backend: pinned chunks, DMA, conversion on the device; it reports its own fill time), then
// a read() of every weight file into one host buffer. Medians over the runs. Unless --cold,
// every run after the first finds the files in the page cache (so do the plain reads).
#include "bench_load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "memprof/clock.h"
#include "memprof/checkpoint.h"

enum { MAX_RUNS = 100 };
static const size_t READ_BUFFER_BYTES = (size_t)64 << 20;

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *values, int count) {
    qsort(values, (size_t)count, sizeof values[0], compare_doubles);
    return values[count / 2];
}

typedef struct file_list {
    char (*paths)[4096];
    int count;
    size_t bytes;
} file_list;

// Best effort: the kernel drops the clean cached pages no process maps.
static void drop_cached_pages(const file_list *files) {
    for (int i = 0; i < files->count; i++) {
        int fd = open(files->paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

static int plain_read(double *seconds, const file_list *files, char *buffer, memprof_error *err) {
    double start = clock_seconds();
    for (int i = 0; i < files->count; i++) {
        int fd = open(files->paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", files->paths[i], strerror(errno));
        ssize_t got;
        while ((got = read(fd, buffer, READ_BUFFER_BYTES)) > 0) {}
        int saved = errno;
        close(fd);
        if (got < 0) return error_set(err, MEMPROF_ERR, "%s: read failed: %s", files->paths[i], strerror(saved));
    }
    *seconds = clock_seconds() - start;
    return 0;
}

static int list_files(file_list *out, const char *directory, tensor_dtype *weight_dtype, memprof_error *err) {
    checkpoint *ckpt;
    int status = checkpoint_open(&ckpt, directory, err);
    if (status != 0) return status;
    out->count = checkpoint_num_files(ckpt);
    out->paths = calloc((size_t)out->count, sizeof *out->paths);
    if (out->paths == NULL) status = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    for (int i = 0; status == 0 && i < out->count; i++) {
        const weight_file *file = checkpoint_file(ckpt, i);
        snprintf(out->paths[i], sizeof out->paths[i], "%s", file->path);
        out->bytes += file->size;
    }
    const tensor_view *embedding = checkpoint_tensor(ckpt, "gpt_neox.embed_in.weight");
    *weight_dtype = embedding ? embedding->dtype : TENSOR_F16;
    checkpoint_close(ckpt);
    return status;
}

static void print_rate(const char *what, size_t bytes, double seconds, const char *note) {
    printf("  %-13s %7.2f GB/s  (%.3f s for %.2f GB%s%s)\n", what, seconds > 0 ? (double)bytes * 1e-9 / seconds : 0.0,
           seconds, (double)bytes * 1e-9, *note ? "; " : "", note);
}

int bench_load(const char *directory, const backend *compute, const backend_options *settings, int repeats, int cold) {
    if (repeats > MAX_RUNS) repeats = MAX_RUNS;
    if (repeats < 1) repeats = 1;
    memprof_error err = {0};
    file_list files = {0};
    tensor_dtype weight_dtype = TENSOR_F16;
    double open_times[MAX_RUNS], load_times[MAX_RUNS], fill_times[MAX_RUNS], total_times[MAX_RUNS], read_times[MAX_RUNS];
    size_t fill_bytes = 0;
    char *buffer = NULL;
    int status = list_files(&files, directory, &weight_dtype, &err);
    if (status == 0 && (buffer = malloc(READ_BUFFER_BYTES)) == NULL)
        status = error_set(&err, MEMPROF_ERR_NOMEM, "out of memory for the read buffer");
    if (buffer) memset(buffer, 0, READ_BUFFER_BYTES);  // its pages faulted in before any timing
    for (int r = 0; status == 0 && r < repeats; r++) {
        // The load first: a backend that cannot load (no GPU) fails before any timing.
        if (cold) drop_cached_pages(&files);
        checkpoint *ckpt = NULL;
        void *model = NULL;
        double start = clock_seconds();
        status = checkpoint_open(&ckpt, directory, &err);
        double opened = clock_seconds();
        if (status == 0) status = compute->load(&model, ckpt, settings, &err);
        double loaded = clock_seconds();
        open_times[r] = opened - start;
        load_times[r] = loaded - opened;
        total_times[r] = loaded - start;
        fill_times[r] = load_times[r];
        if (status == 0 && compute->load_report) {
            backend_load_report report;
            compute->load_report(&report, model);
            fill_times[r] = report.seconds;
            fill_bytes = report.bytes;
        }
        if (model) compute->unload(model);
        checkpoint_close(ckpt);
        if (status != 0) break;
        if (cold) drop_cached_pages(&files);
        status = plain_read(&read_times[r], &files, buffer, &err);
    }
    if (status == 0) {
        compute_precision precision = settings->precision;
        int gpu = strcmp(compute->name, "cpu") != 0;
        const char *as = precision == PRECISION_BF16 ? "bf16"
                         : precision == PRECISION_FP16 || (gpu && precision == PRECISION_DEFAULT) ? "fp16" : "fp32";
        printf("load %s on %s (%s weights as %s): %.2f GB in %d file%s, median of %d run%s, page cache %s\n", directory,
               compute->name, tensor_dtype_name(weight_dtype), as, (double)files.bytes * 1e-9, files.count,
               files.count == 1 ? "" : "s", repeats, repeats == 1 ? "" : "s",
               cold ? "dropped before each measurement (best effort)" : "warm after the first run");
        print_rate("plain read:", files.bytes, median(read_times, repeats), "read() of the weight files, 64 MiB at a time");
        print_rate("open + hash:", files.bytes, median(open_times, repeats), "checkpoint_open maps and hashes every file");
        if (compute->load_report)
            print_rate("upload:", fill_bytes, median(fill_times, repeats), "the backend's fill: host copy, DMA, conversion");
        print_rate("backend load:", files.bytes, median(load_times, repeats), "allocation and fill, wall");
        print_rate("end to end:", files.bytes, median(total_times, repeats), "open + load");
    }
    free(buffer);
    free(files.paths);
    if (status != 0) {
        fprintf(stderr, "memprof bench: %s\n", err.message);
        return EXIT_FAILURE_INPUT;
    }
    return EXIT_OK;
}
