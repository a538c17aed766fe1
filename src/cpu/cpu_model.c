// cpu_model.c — upcasts a checkpoint's weights to fp32 (one allocation) and builds the
// rotary tables; per-thread workspaces for one sequence.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "memprof/rotary.h"

// Copies one tensor into storage at *cursor after checking its element count.
static int load_tensor(const float **out, float *storage, size_t *cursor, const checkpoint *ckpt, const char *name,
                       int64_t expected_numel, memprof_error *err) {
    const tensor_view *tensor = checkpoint_tensor(ckpt, name);
    if (tensor == NULL) return error_set(err, MEMPROF_ERR, "tensor %s: missing from checkpoint", name);
    if (tensor->numel != expected_numel)
        return error_set(err, MEMPROF_ERR, "tensor %s: %lld elements, expected %lld", name,
                         (long long)tensor->numel, (long long)expected_numel);
    float *destination = storage + *cursor;
    if (tensor_read_f32(destination, tensor, err) != 0) return error_prefix(err, "tensor %s", name);
    *cursor += (size_t)expected_numel;
    *out = destination;
    return 0;
}

int cpu_model_load(cpu_model **out, const checkpoint *ckpt, memprof_error *err) {
    const model_config *c = checkpoint_config(ckpt);
    int64_t d = c->hidden_size, ff = c->intermediate_size, V = c->vocab_size, L = c->num_hidden_layers;
    int64_t per_layer = 4 * d + 3 * d * d + 3 * d + d * d + d + ff * d + ff + d * ff + d;
    size_t total = (size_t)(2 * V * d + 2 * d + L * per_layer);

    cpu_model *model = calloc(1, sizeof *model);
    if (model == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "cpu backend: out of memory");
    model->config = *c;
    model->storage = malloc(total * sizeof(float));
    model->layers = calloc((size_t)L, sizeof *model->layers);
    if (model->storage == NULL || model->layers == NULL) {
        cpu_model_free(model);
        return error_set(err, MEMPROF_ERR_NOMEM, "cpu backend: cannot allocate %zu MB of fp32 weights",
                         total * sizeof(float) >> 20);
    }
    const tensor_view *embedding = checkpoint_tensor(ckpt, "gpt_neox.embed_in.weight");
    model->weight_dtype = embedding ? embedding->dtype : TENSOR_F32;
    size_t cursor = 0;
    int status = load_tensor(&model->embed_in, model->storage, &cursor, ckpt, "gpt_neox.embed_in.weight", V * d, err);
    for (int64_t l = 0; l < L && status == 0; l++) {
        cpu_layer_weights *w = &model->layers[l];
        struct { const float **slot; const char *suffix; int64_t numel; } parts[] = {
            {&w->ln1_weight, "input_layernorm.weight", d},
            {&w->ln1_bias, "input_layernorm.bias", d},
            {&w->ln2_weight, "post_attention_layernorm.weight", d},
            {&w->ln2_bias, "post_attention_layernorm.bias", d},
            {&w->qkv_weight, "attention.query_key_value.weight", 3 * d * d},
            {&w->qkv_bias, "attention.query_key_value.bias", 3 * d},
            {&w->dense_weight, "attention.dense.weight", d * d},
            {&w->dense_bias, "attention.dense.bias", d},
            {&w->up_weight, "mlp.dense_h_to_4h.weight", ff * d},
            {&w->up_bias, "mlp.dense_h_to_4h.bias", ff},
            {&w->down_weight, "mlp.dense_4h_to_h.weight", d * ff},
            {&w->down_bias, "mlp.dense_4h_to_h.bias", d},
        };
        for (size_t p = 0; p < sizeof parts / sizeof parts[0] && status == 0; p++) {
            char name[TENSOR_NAME_MAX];
            snprintf(name, sizeof name, "gpt_neox.layers.%lld.%s", (long long)l, parts[p].suffix);
            status = load_tensor(parts[p].slot, model->storage, &cursor, ckpt, name, parts[p].numel, err);
        }
    }
    if (status == 0)
        status = load_tensor(&model->final_ln_weight, model->storage, &cursor, ckpt,
                             "gpt_neox.final_layer_norm.weight", d, err);
    if (status == 0)
        status = load_tensor(&model->final_ln_bias, model->storage, &cursor, ckpt, "gpt_neox.final_layer_norm.bias",
                             d, err);
    if (status == 0) status = load_tensor(&model->embed_out, model->storage, &cursor, ckpt, "embed_out.weight", V * d, err);
    if (status != 0) {
        cpu_model_free(model);
        return status;
    }
    *out = model;
    return 0;
}

void cpu_model_free(cpu_model *model) {
    if (model == NULL) return;
    free(model->storage);
    free(model->layers);
    free(model->rotary_cos);
    free(model->rotary_sin);
    free(model);
}

// Grows the tables to `positions` positions (rotary.h: the same tables on every backend).
int cpu_rotary_prepare(cpu_model *model, int64_t positions, memprof_error *err) {
    if (positions <= model->rotary_positions) return 0;
    int half = model->config.rotary_dims / 2;
    size_t count = (size_t)positions * (size_t)(half > 0 ? half : 1);
    float *cos_table = realloc(model->rotary_cos, count * sizeof(float));
    if (cos_table) model->rotary_cos = cos_table;
    float *sin_table = realloc(model->rotary_sin, count * sizeof(float));
    if (sin_table) model->rotary_sin = sin_table;
    if (cos_table == NULL || sin_table == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "rotary tables: out of memory");
    rotary_tables_compute(cos_table, sin_table, &model->config, model->weight_dtype, positions);
    model->rotary_positions = positions;
    return 0;
}

int cpu_workspace_alloc(cpu_workspace *out, const model_config *c, int64_t max_tokens, memprof_error *err) {
    memset(out, 0, sizeof *out);
    size_t T = (size_t)max_tokens, d = (size_t)c->hidden_size;
    out->max_tokens = max_tokens;
    out->residual = malloc(T * d * sizeof(float));
    out->norm1 = malloc(T * d * sizeof(float));
    out->norm2 = malloc(T * d * sizeof(float));
    out->qkv = malloc(T * 3 * d * sizeof(float));
    out->attention = malloc(T * d * sizeof(float));
    out->branch = malloc(T * d * sizeof(float));
    out->hidden = malloc(T * (size_t)c->intermediate_size * sizeof(float));
    out->scores = malloc((size_t)ATTENTION_BLOCK * T * sizeof(float));
    out->logits = malloc((size_t)LOGITS_CHUNK * (size_t)c->vocab_size * sizeof(float));
    if (!out->residual || !out->norm1 || !out->norm2 || !out->qkv || !out->attention || !out->branch ||
        !out->hidden || !out->scores || !out->logits) {
        cpu_workspace_free(out);
        return error_set(err, MEMPROF_ERR_NOMEM, "cpu backend: cannot allocate a workspace for %lld tokens",
                         (long long)max_tokens);
    }
    return 0;
}

void cpu_workspace_free(cpu_workspace *w) {
    free(w->residual);
    free(w->norm1);
    free(w->norm2);
    free(w->qkv);
    free(w->attention);
    free(w->branch);
    free(w->hidden);
    free(w->scores);
    free(w->logits);
    memset(w, 0, sizeof *w);
}
