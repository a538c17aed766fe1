// test_checkpoint_formats.c — the layouts a checkpoint folder may take, written at test time
// from the f32 fixture's tensors: sharded safetensors with an index (float total_size),
// sharded torch zips (one plain, one with every ZIP64 structure) that also carry the legacy
// buffers, the resolution order between formats, and lm_head.weight vs embed_out.weight.
#include <stdlib.h>
#include <string.h>

#include "checkpoint_writer.h"
#include "memprof/checkpoint.h"
#include "test.h"

#define F32_DIR "tests/fixtures/tiny-neox-f32-safetensors"
#define NUM_TENSORS 28

// The fixture's 28 model tensors, in a fixed order (embed_out last).
static int collect_views(const tensor_view **views, const checkpoint *ckpt) {
    static const char *layer_parts[] = {
        "input_layernorm.weight", "input_layernorm.bias", "post_attention_layernorm.weight",
        "post_attention_layernorm.bias", "attention.query_key_value.weight", "attention.query_key_value.bias",
        "attention.dense.weight", "attention.dense.bias", "mlp.dense_h_to_4h.weight", "mlp.dense_h_to_4h.bias",
        "mlp.dense_4h_to_h.weight", "mlp.dense_4h_to_h.bias",
    };
    int n = 0;
    char name[TENSOR_NAME_MAX];
    views[n++] = checkpoint_tensor(ckpt, "gpt_neox.embed_in.weight");
    for (int layer = 0; layer < 2; layer++)
        for (int k = 0; k < 12; k++) {
            snprintf(name, sizeof name, "gpt_neox.layers.%d.%s", layer, layer_parts[k]);
            views[n++] = checkpoint_tensor(ckpt, name);
        }
    views[n++] = checkpoint_tensor(ckpt, "gpt_neox.final_layer_norm.weight");
    views[n++] = checkpoint_tensor(ckpt, "gpt_neox.final_layer_norm.bias");
    views[n++] = checkpoint_tensor(ckpt, "embed_out.weight");
    for (int i = 0; i < n; i++)
        if (!views[i]) return -1;
    return n;
}

// Every tensor of `got` has the same bytes, dtype and shape as in the original.
static int same_tensors(const checkpoint *got, const tensor_view *const *views, int count, char *why, size_t why_size) {
    for (int i = 0; i < count; i++) {
        const tensor_view *t = checkpoint_tensor(got, views[i]->name);
        if (!t || t->dtype != views[i]->dtype || t->ndim != views[i]->ndim || t->nbytes != views[i]->nbytes ||
            memcmp(t->data, views[i]->data, t->nbytes) != 0 || memcmp(t->shape, views[i]->shape, sizeof t->shape)) {
            snprintf(why, why_size, "%s differs or is missing", views[i]->name);
            return 0;
        }
    }
    snprintf(why, why_size, "ok");
    return 1;
}

static void write_index(const char *path, const tensor_view *const *views, int count, int split, const char *first,
                        const char *second) {
    byte_buffer b = {0};
    buffer_text(&b, "{\"metadata\": {\"total_size\": 924672.0}, \"weight_map\": {");
    for (int i = 0; i < count; i++) {
        char entry[512];
        snprintf(entry, sizeof entry, "%s\"%s\": \"%s\"", i ? ", " : "", views[i]->name, i < split ? first : second);
        buffer_text(&b, entry);
    }
    buffer_text(&b, "}}\n");
    buffer_append(&b, "", 1);
    write_text(path, (const char *)b.data);
    free(b.data);
}

static void check_open(const char *label, const char *directory, const tensor_view *const *views, int count,
                       int expect_files, const char *expect_first_file) {
    checkpoint *ckpt = NULL;
    memprof_error err = {0};
    int status = checkpoint_open(&ckpt, directory, &err);
    char why[512] = "";
    int ok = status == 0 && same_tensors(ckpt, views, count, why, sizeof why) &&
             checkpoint_num_files(ckpt) == expect_files && strstr(checkpoint_file(ckpt, 0)->path, expect_first_file);
    CHECK(label, ok, "status %d (%s) %s files %d first %s", status, err.message, why,
          ckpt ? checkpoint_num_files(ckpt) : -1, ckpt ? checkpoint_file(ckpt, 0)->path : "-");
    checkpoint_close(ckpt);
}

int main(void) {
    checkpoint *source = NULL;
    memprof_error err = {0};
    if (checkpoint_open(&source, F32_DIR, &err) != 0) {
        printf("FAIL formats: cannot open the f32 fixture: %s\n", err.message);
        return 1;
    }
    const tensor_view *views[NUM_TENSORS + 2];
    int count = collect_views(views, source);
    CHECK("formats: fixture has its 28 tensors", count == NUM_TENSORS, "%d", count);
    if (count != NUM_TENSORS) return 1;
    char directory[] = "/tmp/memprof-formats-XXXXXX";
    if (!mkdtemp(directory)) return 1;
    copy_file(path_in(directory, "config.json"), F32_DIR "/config.json");
    int split = 13;

    // Sharded safetensors.
    byte_buffer shard1 = {0}, shard2 = {0};
    build_safetensors(&shard1, views, split);
    build_safetensors(&shard2, views + split, count - split);
    write_bytes(path_in(directory, "model-00001-of-00002.safetensors"), shard1.data, shard1.size);
    write_bytes(path_in(directory, "model-00002-of-00002.safetensors"), shard2.data, shard2.size);
    write_index(path_in(directory, "model.safetensors.index.json"), views, count, split,
                "model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors");
    // (the index maps the first tensors to the second file name, so the shard files are swapped)
    write_bytes(path_in(directory, "model-00002-of-00002.safetensors"), shard1.data, shard1.size);
    write_bytes(path_in(directory, "model-00001-of-00002.safetensors"), shard2.data, shard2.size);
    check_open("sharded safetensors with a float total_size", directory, views, count, 2,
               "model-00001-of-00002.safetensors");

    // Sharded torch zips, plus legacy buffers that must be skipped: a U8 causal mask and a
    // scalar masked_bias in shard 1; shard 2 written with ZIP64 structures everywhere.
    static const uint8_t mask[16] = {1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};
    static const float masked_bias = -1e9f;
    tensor_view mask_view = {.name = "gpt_neox.layers.0.attention.bias", .dtype = TENSOR_U8, .ndim = 4,
                             .shape = {1, 1, 4, 4}, .numel = 16, .data = mask, .nbytes = 16};
    tensor_view bias_view = {.name = "gpt_neox.layers.1.attention.masked_bias", .dtype = TENSOR_F32, .ndim = 0,
                             .numel = 1, .data = &masked_bias, .nbytes = 4};
    const tensor_view *first_shard[NUM_TENSORS + 2];
    memcpy(first_shard, views, (size_t)split * sizeof *views);
    first_shard[split] = &mask_view;
    first_shard[split + 1] = &bias_view;
    byte_buffer zip1 = {0}, zip2 = {0};
    build_torch_zip(&zip1, "pytorch_model-00001-of-00002", first_shard, split + 2, 0);
    build_torch_zip(&zip2, "archive", views + split, count - split, 1);
    char bin_directory[4200];
    snprintf(bin_directory, sizeof bin_directory, "%s/bin", directory);
    mkdir(bin_directory, 0700);
    copy_file(path_in(bin_directory, "config.json"), F32_DIR "/config.json");
    write_bytes(path_in(bin_directory, "pytorch_model-00001-of-00002.bin"), zip1.data, zip1.size);
    write_bytes(path_in(bin_directory, "pytorch_model-00002-of-00002.bin"), zip2.data, zip2.size);
    // The index must list the buffers too, as published indexes do.
    const tensor_view *listed[NUM_TENSORS + 2];
    memcpy(listed, first_shard, (size_t)(split + 2) * sizeof *listed);
    memcpy(listed + split + 2, views + split, (size_t)(count - split) * sizeof *listed);
    write_index(path_in(bin_directory, "pytorch_model.bin.index.json"), listed, count + 2, split + 2,
                "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin");
    check_open("sharded torch zips (plain + ZIP64) with legacy buffers", bin_directory, views, count, 2,
               "pytorch_model-00001-of-00002.bin");

    // Resolution order: a single model.safetensors beats pytorch_model.bin.index.json.
    byte_buffer whole = {0};
    build_safetensors(&whole, views, count);
    write_bytes(path_in(bin_directory, "model.safetensors"), whole.data, whole.size);
    check_open("model.safetensors is preferred over pytorch_model.bin.index.json", bin_directory, views, count, 1,
               "model.safetensors");
    // ...and model.safetensors.index.json beats model.safetensors.
    copy_file(path_in(bin_directory, "model.safetensors.index.json"), path_in(directory, "model.safetensors.index.json"));
    copy_file(path_in(bin_directory, "model-00001-of-00002.safetensors"),
              path_in(directory, "model-00001-of-00002.safetensors"));
    copy_file(path_in(bin_directory, "model-00002-of-00002.safetensors"),
              path_in(directory, "model-00002-of-00002.safetensors"));
    check_open("model.safetensors.index.json is preferred over model.safetensors", bin_directory, views, count, 2,
               "model-00001-of-00002.safetensors");

    // A single torch zip whose LM head is called lm_head.weight (transformers >= 5 naming).
    char single_directory[4200];
    snprintf(single_directory, sizeof single_directory, "%s/single", directory);
    mkdir(single_directory, 0700);
    copy_file(path_in(single_directory, "config.json"), F32_DIR "/config.json");
    tensor_view head = *views[count - 1];
    snprintf(head.name, sizeof head.name, "lm_head.weight");
    const tensor_view *renamed[NUM_TENSORS];
    memcpy(renamed, views, (size_t)count * sizeof *renamed);
    renamed[count - 1] = &head;
    byte_buffer single = {0};
    build_torch_zip(&single, "archive", renamed, count, 0);
    write_bytes(path_in(single_directory, "pytorch_model.bin"), single.data, single.size);
    check_open("single torch zip with lm_head.weight", single_directory, views, count, 1, "pytorch_model.bin");

    free(shard1.data);
    free(shard2.data);
    free(zip1.data);
    free(zip2.data);
    free(whole.data);
    free(single.data);
    remove_tree(directory);
    checkpoint_close(source);
    return test_failures != 0;
}
