// checkpoint.c — a checkpoint folder: config.json plus weight files, resolved in the order
//   model.safetensors.index.json > model.safetensors > pytorch_model.bin.index.json > pytorch_model.bin.
// Every weight file is mmapped and hashed once; the tensor table points into the mappings
// and lives until checkpoint_close.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "memprof/checkpoint.h"
#include "memprof/weights.h"
#include "model/checkpoint_internal.h"


typedef enum weight_format { FORMAT_SAFETENSORS, FORMAT_TORCH_ZIP } weight_format;

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int join_path(char *out, size_t out_size, const char *directory, const char *name, memprof_error *err) {
    int n = snprintf(out, out_size, "%s/%s", directory, name);
    if (n < 0 || (size_t)n >= out_size)
        return error_set(err, MEMPROF_ERR, "%s: path too long", directory);
    return 0;
}

// Maps, hashes and parses file `index` of the checkpoint, appending its tensors.
static int load_weight_file(checkpoint *ckpt, int index, weight_format format, tensor_view **tensors,
                            int *count, memprof_error *err) {
    weight_file *file = &ckpt->files[index];
    mapped_file *map = &ckpt->maps[index];
    int status = mapped_file_open(map, file->path, err);
    if (status) return status;
    file->size = map->size;
    file->xxh64 = map->xxh64;
    tensor_view *found = NULL;
    int found_count = 0;
    status = format == FORMAT_SAFETENSORS
                 ? safetensors_parse(&found, &found_count, map->data, map->size, file->path, err)
                 : torch_zip_parse(&found, &found_count, map->data, map->size, file->path, err);
    if (status) return status;
    tensor_view *grown = realloc(*tensors, (size_t)(*count + found_count + 1) * sizeof *grown);
    if (!grown) {
        free(found);
        return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory for the tensor table", file->path);
    }
    for (int i = 0; i < found_count; i++) {
        found[i].file_index = index;
        grown[*count + i] = found[i];
    }
    *tensors = grown;
    *count += found_count;
    free(found);
    return 0;
}

static int allocate_files(checkpoint *ckpt, int count, const char *directory, memprof_error *err) {
    ckpt->files = calloc((size_t)count, sizeof *ckpt->files);
    ckpt->maps = calloc((size_t)count, sizeof *ckpt->maps);
    if (!ckpt->files || !ckpt->maps) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", directory);
    ckpt->num_files = count;
    return 0;
}

// Every tensor of every shard must be listed under that shard, and every listed one found.
static int check_against_index(const shard_index *index, const tensor_view *tensors, int count,
                               const checkpoint *ckpt, const char *index_path, memprof_error *err) {
    for (int i = 0; i < count; i++) {
        int listed = shard_index_file_of(index, tensors[i].name);
        if (listed != tensors[i].file_index)
            return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\" is %s %s", ckpt->files[tensors[i].file_index].path,
                             tensors[i].name, listed < 0 ? "not listed in" : "listed under another shard in",
                             index_path);
    }
    for (int k = 0; k < index->num_tensors; k++) {
        int present = 0;
        for (int i = 0; i < count && !present; i++) present = strcmp(tensors[i].name, index->tensors[k]) == 0;
        if (!present)
            return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\" listed in %s is missing from the file",
                             ckpt->files[index->tensor_file[k]].path, index->tensors[k], index_path);
    }
    return 0;
}

static int load_sharded(checkpoint *ckpt, const char *directory, const char *index_path, weight_format format,
                        tensor_view **tensors, int *count, memprof_error *err) {
    shard_index index;
    int status = shard_index_load(&index, index_path, err);
    if (status) return status;
    status = allocate_files(ckpt, index.num_files, directory, err);
    for (int i = 0; i < index.num_files && status == 0; i++) {
        status = join_path(ckpt->files[i].path, sizeof ckpt->files[i].path, directory, index.files[i], err);
        if (status == 0) status = load_weight_file(ckpt, i, format, tensors, count, err);
    }
    if (status == 0) status = check_against_index(&index, *tensors, *count, ckpt, index_path, err);
    shard_index_free(&index);
    return status;
}

// Resolves the weight files and fills the tensor table.
static int load_weights(checkpoint *ckpt, const char *directory, memprof_error *err) {
    static const struct { const char *name; weight_format format; int sharded; } candidates[] = {
        {"model.safetensors.index.json", FORMAT_SAFETENSORS, 1},
        {"model.safetensors", FORMAT_SAFETENSORS, 0},
        {"pytorch_model.bin.index.json", FORMAT_TORCH_ZIP, 1},
        {"pytorch_model.bin", FORMAT_TORCH_ZIP, 0},
    };
    char path[4096];
    tensor_view *tensors = NULL;
    int count = 0, status = 0;
    for (size_t c = 0; c < sizeof candidates / sizeof candidates[0]; c++) {
        if ((status = join_path(path, sizeof path, directory, candidates[c].name, err))) return status;
        if (!file_exists(path)) continue;
        if (candidates[c].sharded) {
            status = load_sharded(ckpt, directory, path, candidates[c].format, &tensors, &count, err);
        } else {
            status = allocate_files(ckpt, 1, directory, err);
            if (status == 0) {
                snprintf(ckpt->files[0].path, sizeof ckpt->files[0].path, "%s", path);
                status = load_weight_file(ckpt, 0, candidates[c].format, &tensors, &count, err);
            }
        }
        if (status == 0)
            status = checkpoint_select_tensors(tensors, &count, &ckpt->config, ckpt->files, path, err);
        if (status) {
            free(tensors);
            return status;
        }
        ckpt->tensors = tensors;
        ckpt->num_tensors = count;
        return 0;
    }
    return error_set(err, MEMPROF_ERR, "%s: no weight files (model.safetensors[.index.json] or "
                     "pytorch_model.bin[.index.json])", directory);
}

int checkpoint_open(checkpoint **out, const char *directory, memprof_error *err) {
    *out = NULL;
    checkpoint *ckpt = calloc(1, sizeof *ckpt);
    if (!ckpt) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", directory);
    char path[4096];
    int status = join_path(path, sizeof path, directory, "config.json", err);
    if (status == 0) status = model_config_load(&ckpt->config, path, err);
    if (status == 0) status = load_weights(ckpt, directory, err);
    if (status) {
        checkpoint_close(ckpt);
        return status;
    }
    *out = ckpt;
    return 0;
}

void checkpoint_close(checkpoint *ckpt) {
    if (!ckpt) return;
    for (int i = 0; i < ckpt->num_files; i++) mapped_file_close(&ckpt->maps[i]);
    free(ckpt->maps);
    free(ckpt->files);
    free(ckpt->tensors);
    free(ckpt->owned_data);
    free(ckpt);
}

const model_config *checkpoint_config(const checkpoint *ckpt) { return &ckpt->config; }

const tensor_view *checkpoint_tensor(const checkpoint *ckpt, const char *name) {
    int lo = 0, hi = ckpt->num_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(ckpt->tensors[mid].name, name);
        if (c == 0) return &ckpt->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

int checkpoint_num_files(const checkpoint *ckpt) { return ckpt->num_files; }

const weight_file *checkpoint_file(const checkpoint *ckpt, int index) {
    return index >= 0 && index < ckpt->num_files ? &ckpt->files[index] : NULL;
}

// xxh64 (seed 0) over the per-file xxh64 values, each as 8 little-endian bytes, in order.
void checkpoint_checksum(char out_hex[17], const checkpoint *ckpt) {
    XXH64_state_t *state = XXH64_createState();
    uint64_t digest = 0;
    if (state && XXH64_reset(state, 0) == XXH_OK) {
        for (int i = 0; i < ckpt->num_files; i++) {
            uint8_t bytes[8];
            for (int b = 0; b < 8; b++) bytes[b] = (uint8_t)(ckpt->files[i].xxh64 >> (8 * b));
            XXH64_update(state, bytes, sizeof bytes);
        }
        digest = XXH64_digest(state);
    }
    XXH64_freeState(state);
    snprintf(out_hex, 17, "%016llx", (unsigned long long)digest);
}
