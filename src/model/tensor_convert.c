// tensor_convert.c — F16 / BF16 / F32 tensor elements to float32.
//
// The data sits inside an mmapped file at any alignment, so every element is loaded
// with memcpy. All three conversions are exact: every F16 and BF16 value (subnormals,
// infinities, NaN payloads' sign) is representable in float32. Files are little-endian
// (both formats), and so is every host we build for.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "memprof/checkpoint.h"
#include "model/half.h"

// bfloat16 is the top half of a float32.
static float bfloat16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

int tensor_read_f32(float *out, const tensor_view *tensor, memprof_error *err) {
    const uint8_t *bytes = tensor->data;
    size_t element_size = tensor_dtype_size(tensor->dtype);
    if (tensor->numel < 0 || (size_t)tensor->numel * element_size != tensor->nbytes)
        return error_set(err, MEMPROF_ERR, "%s: byte size %zu does not match %lld elements",
                         tensor->name, tensor->nbytes, (long long)tensor->numel);
    switch (tensor->dtype) {
    case TENSOR_F32:
        memcpy(out, bytes, tensor->nbytes);
        return 0;
    case TENSOR_F16:
        for (int64_t i = 0; i < tensor->numel; i++) {
            uint16_t h;
            memcpy(&h, bytes + 2 * i, 2);
            out[i] = half_bits_to_float(h);
        }
        return 0;
    case TENSOR_BF16:
        for (int64_t i = 0; i < tensor->numel; i++) {
            uint16_t b;
            memcpy(&b, bytes + 2 * i, 2);
            out[i] = bfloat16_to_float(b);
        }
        return 0;
    default:
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: dtype %s cannot be read as float32",
                         tensor->name, tensor_dtype_name(tensor->dtype));
    }
}
