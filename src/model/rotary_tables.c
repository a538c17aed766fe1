// rotary_tables.c — cos/sin tables for partial rotary embeddings (see rotary.h).
#include <math.h>

#include "memprof/rotary.h"
#include "model/half.h"

// Round to nearest even through fp16 or bf16; other dtypes leave the value as is.
static float round_through_dtype(float value, tensor_dtype dtype) {
    if (dtype == TENSOR_F16) return half_bits_to_float(float_to_half_bits(value));
    if (dtype == TENSOR_BF16) {
        union { float value; uint32_t bits; } u = {.value = value};
        u.bits = (u.bits + 0x7fffu + ((u.bits >> 16) & 1u)) & 0xffff0000u;
        return u.value;
    }
    return value;
}

void rotary_tables_compute(float *cos_table, float *sin_table, const model_config *config, tensor_dtype weight_dtype,
                           int64_t positions) {
    int half = config->rotary_dims / 2;
    for (int i = 0; i < half; i++) {
        float exponent = (float)(2 * i) / (float)config->rotary_dims;
        float inverse_frequency = round_through_dtype(1.0f / powf((float)config->rotary_base, exponent), weight_dtype);
        for (int64_t p = 0; p < positions; p++) {
            double theta = (double)p * (double)inverse_frequency;
            cos_table[p * half + i] = (float)cos(theta);
            sin_table[p * half + i] = (float)sin(theta);
        }
    }
}
