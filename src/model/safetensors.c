// safetensors.c — one .safetensors file (safetensors/src/tensor.rs).
//
// Layout: bytes [0,8) = N (u64 LE); [8, 8+N) = JSON header, starting with '{', maybe padded
// with trailing spaces; [8+N, size) = the data buffer. Header entries are
//   "name": {"dtype": "F16", "shape": [..], "data_offsets": [BEGIN, END]}
// with offsets relative to the data buffer, plus an optional "__metadata__" string map.
// Validation follows `Metadata::validate`: sorted by offsets, the tensors tile the buffer
// exactly (no gap, no overlap), END - BEGIN == numel * element size, and the buffer ends
// exactly at the end of the file.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

#define SAFETENSORS_MAX_HEADER 100000000ull  // MAX_HEADER_SIZE in the reference reader

typedef struct tensor_span {
    uint64_t begin, end;  // relative to the data buffer
    int index;            // into the tensor array
} tensor_span;

static int compare_spans(const void *a, const void *b) {
    const tensor_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int read_offset(uint64_t *out, json_t *value) {
    if (!json_is_integer(value) || json_integer_value(value) < 0) return -1;
    *out = (uint64_t)json_integer_value(value);
    return 0;
}

// Fills one tensor_view (data left NULL) and its span from a header entry.
static int parse_entry(tensor_view *tensor, tensor_span *span, const char *name, json_t *info,
                       const char *path, memprof_error *err) {
    if (tensor_name_check(name, strlen(name)) != 0)
        return error_set(err, MEMPROF_ERR, "%s: tensor name is empty, longer than %d bytes or has control "
                         "characters", path, TENSOR_NAME_MAX - 1);
    memset(tensor, 0, sizeof *tensor);
    strcpy(tensor->name, name);
    if (!json_is_object(info))
        return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": header entry is not an object", path, name);

    json_t *dtype = json_object_get(info, "dtype");
    if (!json_is_string(dtype))
        return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": missing or non-string \"dtype\"", path, name);
    if (tensor_dtype_from_safetensors(&tensor->dtype, json_string_value(dtype)) != 0) {
        char shown[32];
        printable_excerpt(shown, sizeof shown, json_string_value(dtype), strlen(json_string_value(dtype)));
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: tensor \"%s\": dtype \"%s\" is not supported",
                         path, name, shown);
    }

    json_t *shape = json_object_get(info, "shape");
    if (!json_is_array(shape))
        return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": missing or non-array \"shape\"", path, name);
    if (json_array_size(shape) > TENSOR_MAX_DIMS)
        return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": %zu dimensions (at most %d)", path, name,
                         json_array_size(shape), TENSOR_MAX_DIMS);
    tensor->ndim = (int)json_array_size(shape);
    uint64_t numel = 1;
    int overflow = 0;
    for (int i = 0; i < tensor->ndim; i++) {
        json_t *dim = json_array_get(shape, (size_t)i);
        if (!json_is_integer(dim) || json_integer_value(dim) < 0)
            return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": shape[%d] is not a non-negative integer",
                             path, name, i);
        uint64_t d = (uint64_t)json_integer_value(dim);
        tensor->shape[i] = (int64_t)d;
        if (d != 0 && numel > (uint64_t)INT64_MAX / d) overflow = 1;
        else numel *= d;
    }
    size_t element_size = tensor_dtype_size(tensor->dtype);
    if (overflow || numel > (uint64_t)INT64_MAX / element_size)
        return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": shape is too large", path, name);
    tensor->numel = (int64_t)numel;

    json_t *offsets = json_object_get(info, "data_offsets");
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        read_offset(&span->begin, json_array_get(offsets, 0)) != 0 ||
        read_offset(&span->end, json_array_get(offsets, 1)) != 0)
        return error_set(err, MEMPROF_ERR,
                         "%s: tensor \"%s\": \"data_offsets\" must be two non-negative integers", path, name);
    if (span->end < span->begin)
        return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": data_offsets [%llu, %llu] end before they begin",
                         path, name, (unsigned long long)span->begin, (unsigned long long)span->end);
    uint64_t nbytes = numel * element_size;
    if (span->end - span->begin != nbytes)
        return error_set(err, MEMPROF_ERR,
                         "%s: tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes but dtype %s x %llu elements "
                         "needs %llu",
                         path, name, (unsigned long long)span->begin, (unsigned long long)span->end,
                         (unsigned long long)(span->end - span->begin), tensor_dtype_name(tensor->dtype),
                         (unsigned long long)numel, (unsigned long long)nbytes);
    tensor->nbytes = (size_t)nbytes;
    return 0;
}

static int check_metadata(json_t *metadata, const char *path, memprof_error *err) {
    if (!json_is_object(metadata))
        return error_set(err, MEMPROF_ERR, "%s: \"__metadata__\" is not an object", path);
    const char *key;
    json_t *value;
    json_object_foreach(metadata, key, value) {
        if (!json_is_string(value)) {
            char shown[64];
            printable_excerpt(shown, sizeof shown, key, strlen(key));
            return error_set(err, MEMPROF_ERR, "%s: \"__metadata__\" value of \"%s\" is not a string", path, shown);
        }
    }
    return 0;
}

// Sorted by offsets, the spans must start at 0, touch end to end and stop at data_size.
static int check_tiling(tensor_span *spans, int count, const tensor_view *tensors, uint64_t data_size,
                        const char *path, memprof_error *err) {
    qsort(spans, (size_t)count, sizeof *spans, compare_spans);
    uint64_t expected = 0;
    for (int i = 0; i < count; i++) {
        const char *name = tensors[spans[i].index].name;
        if (spans[i].begin > expected)
            return error_set(err, MEMPROF_ERR,
                             "%s: tensor \"%s\": gap in the data buffer: data_offsets begin at %llu, "
                             "previous tensor ends at %llu",
                             path, name, (unsigned long long)spans[i].begin, (unsigned long long)expected);
        if (spans[i].begin < expected)
            return error_set(err, MEMPROF_ERR,
                             "%s: tensor \"%s\": overlapping data_offsets: begins at %llu, "
                             "previous tensor ends at %llu",
                             path, name, (unsigned long long)spans[i].begin, (unsigned long long)expected);
        expected = spans[i].end;
    }
    if (expected != data_size)
        return error_set(err, MEMPROF_ERR,
                         "%s: tensors cover %llu bytes of the data buffer but it holds %llu (file %s)", path,
                         (unsigned long long)expected, (unsigned long long)data_size,
                         expected > data_size ? "truncated" : "has trailing bytes");
    return 0;
}

static int parse_header(tensor_view **out_tensors, int *out_count, json_t *root, const uint8_t *data,
                        uint64_t data_size, const char *path, memprof_error *err) {
    size_t capacity = json_object_size(root);
    tensor_view *tensors = calloc(capacity ? capacity : 1, sizeof *tensors);
    tensor_span *spans = calloc(capacity ? capacity : 1, sizeof *spans);
    if (!tensors || !spans) {
        free(tensors);
        free(spans);
        return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory for %zu tensors", path, capacity);
    }
    int count = 0, status = 0;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (strcmp(key, "__metadata__") == 0) {
            status = check_metadata(value, path, err);
        } else {
            spans[count].index = count;
            status = parse_entry(&tensors[count], &spans[count], key, value, path, err);
            count++;
        }
        if (status) break;
    }
    if (status == 0) status = check_tiling(spans, count, tensors, data_size, path, err);
    if (status == 0) {
        for (int i = 0; i < count; i++) tensors[spans[i].index].data = data + spans[i].begin;
        *out_tensors = tensors;
        *out_count = count;
    } else {
        free(tensors);
    }
    free(spans);
    return status;
}

int safetensors_parse(tensor_view **out_tensors, int *out_count, const uint8_t *file, size_t size,
                      const char *path, memprof_error *err) {
    *out_tensors = NULL;
    *out_count = 0;
    if (size < 8)
        return error_set(err, MEMPROF_ERR, "%s: truncated: %zu bytes, shorter than the 8-byte header length",
                         path, size);
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; i--) header_size = (header_size << 8) | file[i];
    if (header_size > SAFETENSORS_MAX_HEADER)
        return error_set(err, MEMPROF_ERR, "%s: header length %llu exceeds the limit of %llu bytes", path,
                         (unsigned long long)header_size, SAFETENSORS_MAX_HEADER);
    if (header_size > size - 8)
        return error_set(err, MEMPROF_ERR, "%s: header length %llu runs past the end of the file (%zu bytes)",
                         path, (unsigned long long)header_size, size);
    const char *header = (const char *)file + 8;
    if (header_size == 0 || header[0] != '{')
        return error_set(err, MEMPROF_ERR, "%s: header does not start with '{'", path);
    size_t json_length = (size_t)header_size;
    while (json_length > 0 && header[json_length - 1] == ' ') json_length--;  // writer's padding

    json_error_t json_error;
    json_t *root = json_loadb(header, json_length, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        char shown[JSON_ERROR_TEXT_LENGTH];  // jansson quotes the offending input
        printable_excerpt(shown, sizeof shown, json_error.text, strlen(json_error.text));
        return error_set(err, MEMPROF_ERR, "%s: header JSON, byte %d: %s", path, json_error.position, shown);
    }
    int status = json_is_object(root)
                     ? parse_header(out_tensors, out_count, root, file + 8 + header_size,
                                    size - 8 - header_size, path, err)
                     : error_set(err, MEMPROF_ERR, "%s: header is not a JSON object", path);
    json_decref(root);
    return status;
}
