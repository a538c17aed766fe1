// shard_index.c — the JSON index of a sharded checkpoint:
//   {"metadata": {"total_size": 14582842432.0}, "weight_map": {"<tensor>": "<shard file>", ...}}
// total_size may be written as a float, so it is only checked to be a number. Shard names
// must be plain file names in the index's folder (no '/', no "." or "..").
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"
#include "model/json_file.h"

static int compare_names(const void *a, const void *b) { return strcmp(a, b); }

static int add_file(shard_index *index, const char *file) {
    for (int i = 0; i < index->num_files; i++)
        if (strcmp(index->files[i], file) == 0) return i;
    strcpy(index->files[index->num_files], file);
    return index->num_files++;
}

static int fill_index(shard_index *out, json_t *root, const char *path, memprof_error *err) {
    json_t *metadata = json_object_get(root, "metadata");
    if (metadata && !json_is_object(metadata))
        return error_set(err, MEMPROF_ERR, "%s: \"metadata\" is not an object", path);
    json_t *total = metadata ? json_object_get(metadata, "total_size") : NULL;
    if (total && !json_is_number(total))
        return error_set(err, MEMPROF_ERR, "%s: \"metadata.total_size\" is not a number", path);
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map))
        return error_set(err, MEMPROF_ERR, "%s: missing or non-object \"weight_map\"", path);
    size_t n = json_object_size(map);
    if (n == 0) return error_set(err, MEMPROF_ERR, "%s: \"weight_map\" is empty", path);
    out->files = calloc(n, sizeof *out->files);
    out->tensors = calloc(n, sizeof *out->tensors);
    out->tensor_file = calloc(n, sizeof *out->tensor_file);
    if (!out->files || !out->tensors || !out->tensor_file)
        return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);

    const char *tensor;
    json_t *value;
    json_object_foreach(map, tensor, value) {  // first pass: the distinct shard names
        if (tensor_name_check(tensor, strlen(tensor)) != 0)
            return error_set(err, MEMPROF_ERR, "%s: weight_map has a tensor name that is empty, longer than %d "
                             "bytes or has control characters", path, TENSOR_NAME_MAX - 1);
        const char *file = json_is_string(value) ? json_string_value(value) : NULL;
        if (file == NULL)
            return error_set(err, MEMPROF_ERR, "%s: weight_map value of \"%s\" is not a string", path, tensor);
        if (tensor_name_check(file, strlen(file)) != 0 || strlen(file) >= sizeof out->files[0])
            return error_set(err, MEMPROF_ERR, "%s: weight_map value of \"%s\" is not a plain file name", path,
                             tensor);
        if (strchr(file, '/') || strcmp(file, ".") == 0 || strcmp(file, "..") == 0)
            return error_set(err, MEMPROF_ERR, "%s: weight_map value of \"%s\" is not a plain file name: \"%s\"",
                             path, tensor, file);
        add_file(out, file);
    }
    qsort(out->files, (size_t)out->num_files, sizeof out->files[0], compare_names);
    json_object_foreach(map, tensor, value) {  // second pass: tensor -> sorted file index
        strcpy(out->tensors[out->num_tensors], tensor);
        out->tensor_file[out->num_tensors++] = add_file(out, json_string_value(value));
    }
    return 0;
}

int shard_index_load(shard_index *out, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    json_t *root = NULL;
    int status = json_file_load_object(&root, path, err);
    if (status) return status;
    status = fill_index(out, root, path, err);
    json_decref(root);
    if (status) shard_index_free(out);
    return status;
}

int shard_index_file_of(const shard_index *index, const char *tensor) {
    for (int i = 0; i < index->num_tensors; i++)
        if (strcmp(index->tensors[i], tensor) == 0) return index->tensor_file[i];
    return -1;
}

void shard_index_free(shard_index *index) {
    free(index->files);
    free(index->tensors);
    free(index->tensor_file);
    memset(index, 0, sizeof *index);
}
