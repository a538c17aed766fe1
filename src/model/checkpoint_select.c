// checkpoint_select.c — the tensor inventory of a GPT-NeoX model (neox_weight_at, checkpoint.h)
// checked against what the weight files hold; embed_out.weight may also be called
// lm_head.weight (transformers >= 5).
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

// Fills list (neox_weight_count entries) from the config.
static int build_inventory(expected_tensor *list, const model_config *c) {
    int n = 0;
    for (int64_t i = 0; i < neox_weight_count(c); i++) {
        neox_weight w;
        neox_weight_at(&w, c, i);
        expect(list, &n, w.name, w.ndim, w.shape[0], w.shape[1]);
    }
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
    int capacity = (int)neox_weight_count(config);
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
