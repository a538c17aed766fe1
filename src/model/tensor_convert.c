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

// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0x1f) {           // inf or NaN: keep the payload, widen the exponent
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {       // normal: rebias 15 -> 127
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {       // signed zero
        bits = sign;
    } else {                          // subnormal: mantissa * 2^-24, exact in float
        float value = ldexpf((float)mantissa, -24);
        memcpy(&bits, &value, sizeof bits);
        bits |= sign;
    }
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

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
            out[i] = half_to_float(h);
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
