// checkpoint_random.c — in-memory checkpoints with random weights (see checkpoint.h).
//
// Each tensor is filled in chunks of CHUNK elements; chunk k of tensor i draws from its own
// xorshift generator seeded from (seed, i, k), so the values do not depend on which thread
// fills which chunk.
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/checkpoint_internal.h"

enum { CHUNK = 1 << 20 };

typedef struct tensor_recipe {
    char name[TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[2];
    double center, half_width;  // uniform on [center − half_width, center + half_width]
} tensor_recipe;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Uniform with standard deviation sigma has half-width sqrt(3)·sigma.
static void add_recipe(tensor_recipe *recipes, int *count, const char *name, int64_t rows, int64_t cols, double center,
                       double sigma) {
    tensor_recipe *r = &recipes[(*count)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->ndim = cols > 0 ? 2 : 1;
    r->shape[0] = rows;
    r->shape[1] = cols;
    r->center = center;
    r->half_width = sqrt(3.0) * sigma;
}

// Elements [begin, end) of one chunk: center + u·half_width with u uniform on [−1, 1) from the
// generator's top 24 bits, in float, stored as F16 (round to nearest even: the hardware
// conversion in the x86-64-v3 clone, the same bits as float_to_half_bits) or F32. About 4 ns
// an element against 16 for the double-precision draw and software conversion it replaced
// (the 24 GB of a 12b-shaped checkpoint took 15 s on 16 cores).
__attribute__((target_clones("arch=x86-64-v3", "default")))
static void fill_uniform(void *data, int half, int64_t begin, int64_t end, uint64_t state, float center,
                         float half_width) {
    for (int64_t i = begin; i < end; i++) {
        float unit = (float)(splitmix64(&state) >> 40) * 0x1.0p-23f - 1.0f;
        float value = center + unit * half_width;
        if (half) {
            _Float16 rounded = (_Float16)value;
            memcpy((uint16_t *)data + i, &rounded, sizeof rounded);
        } else {
            ((float *)data)[i] = value;
        }
    }
}

typedef struct fill_job {
    const tensor_recipe *recipes;
    tensor_view *tensors;
    int count;
    int64_t *first_chunk;  // [count + 1]: prefix sums of chunks per tensor
    uint64_t seed;
    atomic_llong next;
} fill_job;

static void *fill_worker(void *argument) {
    fill_job *job = argument;
    int64_t total = job->first_chunk[job->count];
    for (;;) {
        int64_t item = atomic_fetch_add(&job->next, 1);
        if (item >= total) break;
        int t = 0;
        while (job->first_chunk[t + 1] <= item) t++;
        int64_t chunk = item - job->first_chunk[t];
        const tensor_recipe *r = &job->recipes[t];
        tensor_view *view = &job->tensors[t];
        int64_t begin = chunk * CHUNK, end = begin + CHUNK < view->numel ? begin + CHUNK : view->numel;
        uint64_t state = job->seed ^ ((uint64_t)t << 40) ^ (uint64_t)chunk * 0x2545f4914f6cdd1dull;
        fill_uniform((void *)view->data, view->dtype == TENSOR_F16, begin, end, state, (float)r->center, (float)r->half_width);
    }
    return NULL;
}

static int compare_by_name(const void *a, const void *b) {
    return strcmp(((const tensor_view *)a)->name, ((const tensor_view *)b)->name);
}

int checkpoint_create_random(checkpoint **out, const model_config *config, tensor_dtype dtype, uint64_t seed,
                             memprof_error *err) {
    if (dtype != TENSOR_F16 && dtype != TENSOR_F32)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "random checkpoint: dtype %s (use F16 or F32)",
                         tensor_dtype_name(dtype));
    int64_t d = config->hidden_size, ff = config->intermediate_size, V = config->vocab_size;
    int L = config->num_hidden_layers;
    int capacity = 12 * L + 4;
    tensor_recipe *recipes = calloc((size_t)capacity, sizeof *recipes);
    checkpoint *ckpt = calloc(1, sizeof *ckpt);
    if (!recipes || !ckpt) {
        free(recipes), free(ckpt);
        return error_set(err, MEMPROF_ERR_NOMEM, "random checkpoint: out of memory");
    }
    int count = 0;
    add_recipe(recipes, &count, "gpt_neox.embed_in.weight", V, d, 0.0, 1.0);
    for (int l = 0; l < L; l++) {
        char name[TENSOR_NAME_MAX];
#define LAYER(suffix, rows, cols, center, sigma)                                        \
    snprintf(name, sizeof name, "gpt_neox.layers.%d.%s", l, suffix);                   \
    add_recipe(recipes, &count, name, rows, cols, center, sigma)
        LAYER("input_layernorm.weight", d, 0, 1.0, 0.1 / sqrt(3.0));
        LAYER("input_layernorm.bias", d, 0, 0.0, 0.05);
        LAYER("post_attention_layernorm.weight", d, 0, 1.0, 0.1 / sqrt(3.0));
        LAYER("post_attention_layernorm.bias", d, 0, 0.0, 0.05);
        LAYER("attention.query_key_value.weight", 3 * d, d, 0.0, 1.0 / sqrt((double)d));
        LAYER("attention.query_key_value.bias", 3 * d, 0, 0.0, 0.05);
        LAYER("attention.dense.weight", d, d, 0.0, 1.0 / sqrt((double)d));
        LAYER("attention.dense.bias", d, 0, 0.0, 0.05);
        LAYER("mlp.dense_h_to_4h.weight", ff, d, 0.0, 1.0 / sqrt((double)d));
        LAYER("mlp.dense_h_to_4h.bias", ff, 0, 0.0, 0.05);
        LAYER("mlp.dense_4h_to_h.weight", d, ff, 0.0, 1.0 / sqrt((double)ff));
        LAYER("mlp.dense_4h_to_h.bias", d, 0, 0.0, 0.05);
#undef LAYER
    }
    add_recipe(recipes, &count, "gpt_neox.final_layer_norm.weight", d, 0, 1.0, 0.1 / sqrt(3.0));
    add_recipe(recipes, &count, "gpt_neox.final_layer_norm.bias", d, 0, 0.0, 0.05);
    add_recipe(recipes, &count, "embed_out.weight", V, d, 0.0, 1.0 / sqrt((double)d));

    size_t element = tensor_dtype_size(dtype), total_bytes = 0;
    tensor_view *tensors = calloc((size_t)count, sizeof *tensors);
    int64_t *first_chunk = calloc((size_t)count + 1, sizeof *first_chunk);
    for (int t = 0; tensors && first_chunk && t < count; t++) {
        tensor_view *v = &tensors[t];
        snprintf(v->name, sizeof v->name, "%s", recipes[t].name);
        v->dtype = dtype;
        v->ndim = recipes[t].ndim;
        v->shape[0] = recipes[t].shape[0];
        v->shape[1] = recipes[t].shape[1];
        v->numel = recipes[t].shape[0] * (v->ndim == 2 ? recipes[t].shape[1] : 1);
        v->nbytes = (size_t)v->numel * element;
        v->file_index = -1;
        total_bytes += (v->nbytes + 63) & ~(size_t)63;
        first_chunk[t + 1] = first_chunk[t] + (v->numel + CHUNK - 1) / CHUNK;
    }
    ckpt->owned_data = tensors && first_chunk ? malloc(total_bytes) : NULL;
    if (ckpt->owned_data == NULL) {
        free(recipes), free(tensors), free(first_chunk), free(ckpt);
        return error_set(err, MEMPROF_ERR_NOMEM, "random checkpoint: cannot allocate %zu MB", total_bytes >> 20);
    }
    char *cursor = ckpt->owned_data;
    for (int t = 0; t < count; t++) {
        tensors[t].data = cursor;
        cursor += (tensors[t].nbytes + 63) & ~(size_t)63;
    }

    fill_job job = {.recipes = recipes, .tensors = tensors, .count = count, .first_chunk = first_chunk, .seed = seed};
    atomic_init(&job.next, 0);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores > 1 ? (int)(cores < 64 ? cores : 64) : 1;
    pthread_t workers[64];
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&workers[started], NULL, fill_worker, &job) != 0) break;
    if (started == 0) fill_worker(&job);
    for (int i = 0; i < started; i++) pthread_join(workers[i], NULL);

    // The fill used recipe order; lookups need name order.
    qsort(tensors, (size_t)count, sizeof *tensors, compare_by_name);
    ckpt->config = *config;
    ckpt->tensors = tensors;
    ckpt->num_tensors = count;
    free(recipes);
    free(first_chunk);
    *out = ckpt;
    return 0;
}
