// cpu_backend.c — the CPU reference backend: fp32 weights, OpenBLAS single-threaded GEMMs,
// and one worker thread per sequence. A sequence is always computed by the same calls in
// the same order whatever the thread count or batch, so its statistics are bitwise stable.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu/cpu_internal.h"

static int check_options(const backend_options *options, memprof_error *err) {
    if (options && options->precision != PRECISION_DEFAULT && options->precision != PRECISION_FP32)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "cpu backend: computes in fp32 only (fp16/bf16 need --backend cuda)");
    return 0;
}

static void finish_model(cpu_model *model, const backend_options *options) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    model->threads = options && options->threads > 0 ? options->threads : (int)(cores > 0 ? cores : 1);
    matmul_use_one_thread();  // parallelism comes from our threads over sequences
}

static int cpu_load(void **out_model, const checkpoint *ckpt, const backend_options *options, memprof_error *err) {
    cpu_model *model;
    int status = check_options(options, err);
    if (status == 0) status = cpu_model_load(&model, ckpt, err);
    if (status != 0) return status;
    finish_model(model, options);
    *out_model = model;
    return 0;
}

static int cpu_allocate(void **out_model, const model_config *config, tensor_dtype weight_dtype,
                        const backend_options *options, memprof_error *err) {
    cpu_model *model;
    int status = check_options(options, err);
    if (status == 0) status = cpu_model_allocate(&model, config, weight_dtype, err);
    if (status != 0) return status;
    finish_model(model, options);
    *out_model = model;
    return 0;
}

static int cpu_weights_view(backend_weights *out, void *handle) {
    cpu_model *model = handle;
    *out = (backend_weights){.data = model->storage, .bytes = model->storage_floats * sizeof(float), .on_device = 0,
                             .device = -1, .config = &model->config, .weight_dtype = model->weight_dtype};
    return 0;
}

typedef struct score_job {
    cpu_model *model;
    const token_sequence *sequences;
    sequence_statistics *out;
    token_statistics *out_tokens;
    int num_sequences;
    int64_t max_tokens;
    atomic_int next;
    atomic_int failed;
    memprof_error error;  // first failure
    pthread_mutex_t error_lock;
} score_job;

static void *score_worker(void *argument) {
    score_job *job = argument;
    cpu_workspace workspace;
    memprof_error err = {0};
    if (cpu_workspace_alloc(&workspace, &job->model->config, job->max_tokens, &err) != 0) {
        pthread_mutex_lock(&job->error_lock);
        if (!atomic_exchange(&job->failed, 1)) job->error = err;
        pthread_mutex_unlock(&job->error_lock);
        return NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(&job->next, 1);
        if (i >= job->num_sequences || atomic_load(&job->failed)) break;
        const token_sequence *s = &job->sequences[i];
        cpu_forward_hidden(&workspace, job->model, s->tokens, s->length);
        cpu_statistics_forward(&job->out[i], job->out_tokens ? &job->out_tokens[i] : NULL, &workspace, job->model,
                               s->tokens, s->length);
    }
    cpu_workspace_free(&workspace);
    return NULL;
}

static int cpu_score(sequence_statistics *out, token_statistics *out_tokens, void *handle,
                     const token_sequence *sequences, int num_sequences, memprof_error *err) {
    cpu_model *model = handle;
    int64_t max_tokens = 0;
    int status = backend_check_sequences(&max_tokens, sequences, num_sequences, model->config.vocab_size, err);
    if (status != 0) return status;
    if (num_sequences == 0) return 0;
    if (cpu_rotary_prepare(model, max_tokens, err) != 0) return err->code;

    score_job job = {.model = model, .sequences = sequences, .out = out, .out_tokens = out_tokens,
                     .num_sequences = num_sequences, .max_tokens = max_tokens};
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    pthread_mutex_init(&job.error_lock, NULL);
    int threads = model->threads < num_sequences ? model->threads : num_sequences;
    pthread_t *workers = calloc((size_t)threads, sizeof *workers);
    if (workers == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "cpu backend: out of memory");
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&workers[started], NULL, score_worker, &job) != 0) break;
    if (started == 0) score_worker(&job);  // no thread could start: run in this one
    for (int t = 0; t < started; t++) pthread_join(workers[t], NULL);
    free(workers);
    pthread_mutex_destroy(&job.error_lock);
    if (atomic_load(&job.failed)) {
        if (err) *err = job.error;
        return job.error.code ? job.error.code : MEMPROF_ERR;
    }
    return 0;
}

static void cpu_unload(void *model) { cpu_model_free(model); }

static size_t cpu_device_memory_bytes(const void *model) { return 0; }

static const backend cpu_backend_ops = {"cpu", cpu_load, cpu_score, cpu_unload, cpu_device_memory_bytes, cpu_weights_view,
                                        cpu_allocate, NULL, NULL};

const backend *cpu_backend(void) { return &cpu_backend_ops; }
