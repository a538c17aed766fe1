// tensor_dtype.c — element sizes and names of the tensor dtypes, the safetensors dtype
// strings that map onto them (safetensors/src/tensor.rs `enum Dtype`), and which byte
// strings are acceptable tensor names.
#include <string.h>

#include "memprof/checkpoint.h"
#include "memprof/weights.h"

static const struct {
    tensor_dtype dtype;
    size_t size;
    const char *name;  // the safetensors spelling
} dtype_table[] = {
    {TENSOR_BOOL, 1, "BOOL"}, {TENSOR_U8, 1, "U8"},    {TENSOR_I8, 1, "I8"},
    {TENSOR_I16, 2, "I16"},   {TENSOR_U16, 2, "U16"},  {TENSOR_F16, 2, "F16"},
    {TENSOR_BF16, 2, "BF16"}, {TENSOR_I32, 4, "I32"},  {TENSOR_U32, 4, "U32"},
    {TENSOR_F32, 4, "F32"},   {TENSOR_I64, 8, "I64"},  {TENSOR_U64, 8, "U64"},
    {TENSOR_F64, 8, "F64"},
};
enum { DTYPE_COUNT = sizeof dtype_table / sizeof dtype_table[0] };

size_t tensor_dtype_size(tensor_dtype dtype) {
    for (int i = 0; i < DTYPE_COUNT; i++)
        if (dtype_table[i].dtype == dtype) return dtype_table[i].size;
    return 0;
}

const char *tensor_dtype_name(tensor_dtype dtype) {
    for (int i = 0; i < DTYPE_COUNT; i++)
        if (dtype_table[i].dtype == dtype) return dtype_table[i].name;
    return "?";
}

int tensor_dtype_from_safetensors(tensor_dtype *out, const char *name) {
    for (int i = 0; i < DTYPE_COUNT; i++) {
        if (strcmp(dtype_table[i].name, name) == 0) {
            *out = dtype_table[i].dtype;
            return 0;
        }
    }
    return -1;
}

int tensor_name_check(const char *name, size_t length) {
    if (length == 0 || length >= TENSOR_NAME_MAX) return -1;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) return -1;
    }
    return 0;
}

void printable_excerpt(char *out, size_t out_size, const char *text, size_t length) {
    if (out_size == 0) return;
    size_t n = length < out_size - 1 ? length : out_size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}
