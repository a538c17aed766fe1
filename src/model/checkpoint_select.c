// checkpoint_select.c — the tensor inventory of a GPT-NeoX model checked
// against what the weight files hold.
//
//   gpt_neox.embed_in.weight                                [V, d]
//   gpt_neox.layers.{i}.input_layernorm.{weight,bias}         [d]
//   gpt_neox.layers.{i}.post_attention_layernorm.{weight,bias} [d]
//   gpt_neox.layers.{i}.attention.query_key_value.weight    [3d, d]   .bias [3d]
//   gpt_neox.layers.{i}.attention.dense.weight              [d, d]    .bias [d]
//   gpt_neox.layers.{i}.mlp.dense_h_to_4h.weight            [ff, d]   .bias [ff]
//   gpt_neox.layers.{i}.mlp.dense_4h_to_h.weight            [d, ff]   .bias [d]
//   gpt_neox.final_layer_norm.{weight,bias}                 [d]
//   embed_out.weight (or lm_head.weight, transformers >= 5) [V, d]
// Buffers that older files carry and the model recomputes are skipped whatever their dtype:
// gpt_neox.layers.{i}.attention.{bias, masked_bias, rotary_emb.inv_freq} and
// gpt_neox.rotary_emb.inv_freq.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

typedef struct expected_tensor {
    char name[TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[2];
    int found;  // index + 1 of the tensor that matched, 0 while missing
} expected_tensor;

static void expect(expected_tensor *list, int *count, const char *name, int ndim, int64_t rows, int64_t cols) {
    expected_tensor *e = &list[(*count)++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    e->shape[0] = rows;
    e->shape[1] = cols;
    e->found = 0;
}

// Fills list (4 + 12 L entries) from the config.
static int build_inventory(expected_tensor *list, const model_config *c) {
    int n = 0;
    int64_t d = c->hidden_size, ff = c->intermediate_size, V = c->vocab_size;
    char name[TENSOR_NAME_MAX];
    expect(list, &n, "gpt_neox.embed_in.weight", 2, V, d);
    for (int i = 0; i < c->num_hidden_layers; i++) {
        static const struct { const char *suffix; int ndim; char rows, cols; } layer[] = {
            {"input_layernorm.weight", 1, 'd', 0},       {"input_layernorm.bias", 1, 'd', 0},
            {"post_attention_layernorm.weight", 1, 'd', 0}, {"post_attention_layernorm.bias", 1, 'd', 0},
            {"attention.query_key_value.weight", 2, '3', 'd'}, {"attention.query_key_value.bias", 1, '3', 0},
            {"attention.dense.weight", 2, 'd', 'd'},     {"attention.dense.bias", 1, 'd', 0},
            {"mlp.dense_h_to_4h.weight", 2, 'f', 'd'},   {"mlp.dense_h_to_4h.bias", 1, 'f', 0},
            {"mlp.dense_4h_to_h.weight", 2, 'd', 'f'},   {"mlp.dense_4h_to_h.bias", 1, 'd', 0},
        };
        for (size_t k = 0; k < sizeof layer / sizeof layer[0]; k++) {
            // 'd' = hidden size, '3' = 3 d (fused QKV), 'f' = intermediate size
            int64_t dims[2];
            char symbols[2] = {layer[k].rows, layer[k].cols};
            for (int j = 0; j < 2; j++)
                dims[j] = symbols[j] == 'd' ? d : symbols[j] == '3' ? 3 * d : symbols[j] == 'f' ? ff : 0;
            snprintf(name, sizeof name, "gpt_neox.layers.%d.%s", i, layer[k].suffix);
            expect(list, &n, name, layer[k].ndim, dims[0], dims[1]);
        }
    }
    expect(list, &n, "gpt_neox.final_layer_norm.weight", 1, d, 0);
    expect(list, &n, "gpt_neox.final_layer_norm.bias", 1, d, 0);
    expect(list, &n, "embed_out.weight", 2, V, d);
    return n;
}

// gpt_neox.layers.<digits>.attention.{bias,masked_bias,rotary_emb.inv_freq}, gpt_neox.rotary_emb.inv_freq
static int is_legacy_buffer(const char *name) {
    if (strcmp(name, "gpt_neox.rotary_emb.inv_freq") == 0) return 1;
    const char *prefix = "gpt_neox.layers.";
    if (strncmp(name, prefix, strlen(prefix)) != 0) return 0;
    const char *p = name + strlen(prefix);
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return strcmp(p, ".attention.bias") == 0 || strcmp(p, ".attention.masked_bias") == 0 ||
           strcmp(p, ".attention.rotary_emb.inv_freq") == 0;
}

static void format_shape(char *out, size_t out_size, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(out, out_size, "[");
    for (int i = 0; i < ndim && used < out_size; i++)
        used += (size_t)snprintf(out + used, out_size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < out_size) snprintf(out + used, out_size - used, "]");
}

static int compare_by_name(const void *a, const void *b) {
    return strcmp(((const tensor_view *)a)->name, ((const tensor_view *)b)->name);
}

// Matches one stored tensor against the inventory; 1 = keep, 0 = skip, negative = error.
static int match_tensor(tensor_view *t, expected_tensor *list, int expected_count, int index,
                        const weight_file *files, memprof_error *err) {
    const char *file = files[t->file_index].path;
    if (is_legacy_buffer(t->name)) return 0;
    int lm_head = strcmp(t->name, "lm_head.weight") == 0;
    const char *lookup = lm_head ? "embed_out.weight" : t->name;
    expected_tensor *e = NULL;
    for (int k = 0; k < expected_count && !e; k++)
        if (strcmp(list[k].name, lookup) == 0) e = &list[k];
    if (e == NULL)
        return error_set(err, MEMPROF_ERR, "%s: unexpected tensor \"%s\" (not part of a GPT-NeoX model "
                         "with this config.json)", file, t->name);
    if (e->found)
        return error_set(err, MEMPROF_ERR, lm_head || strcmp(t->name, "embed_out.weight") == 0
                         ? "%s: tensor \"%s\": the checkpoint holds both embed_out.weight and lm_head.weight"
                         : "%s: tensor \"%s\" appears twice", file, t->name);
    if (t->dtype != TENSOR_F16 && t->dtype != TENSOR_BF16 && t->dtype != TENSOR_F32)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: tensor \"%s\": dtype %s is not supported "
                         "(F16, BF16 or F32)", file, t->name, tensor_dtype_name(t->dtype));
    int same = t->ndim == e->ndim;
    for (int j = 0; same && j < e->ndim; j++) same = t->shape[j] == e->shape[j];
    if (!same) {
        char want[128], got[256];
        format_shape(want, sizeof want, e->ndim, e->shape);
        format_shape(got, sizeof got, t->ndim, t->shape);
        return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": shape mismatch: expected %s from config.json, "
                         "found %s", file, t->name, want, got);
    }
    e->found = index + 1;
    if (lm_head) snprintf(t->name, sizeof t->name, "embed_out.weight");
    return 1;
}

int checkpoint_select_tensors(tensor_view *tensors, int *count, const model_config *config,
                              const weight_file *files, const char *source, memprof_error *err) {
    int capacity = 4 + 12 * config->num_hidden_layers;
    expected_tensor *list = malloc((size_t)capacity * sizeof *list);
    if (!list) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory for the tensor inventory");
    int expected_count = build_inventory(list, config);
    // Sorted first, so the first error reported does not depend on the files' order.
    qsort(tensors, (size_t)*count, sizeof *tensors, compare_by_name);
    int kept = 0, status = 0;
    for (int i = 0; i < *count && status == 0; i++) {
        int keep = match_tensor(&tensors[i], list, expected_count, i, files, err);
        if (keep < 0) status = keep;
        else if (keep) tensors[kept++] = tensors[i];
    }
    for (int k = 0; k < expected_count && status == 0; k++)
        if (!list[k].found)
            status = error_set(err, MEMPROF_ERR, "%s: missing tensor \"%s\"%s", source, list[k].name,
                               strcmp(list[k].name, "embed_out.weight") == 0 ? " (or lm_head.weight)" : "");
    free(list);
    if (status) return status;
    // Renaming lm_head.weight may have broken the order.
    qsort(tensors, (size_t)kept, sizeof *tensors, compare_by_name);
    *count = kept;
    return 0;
}
