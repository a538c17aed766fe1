// rotary.h — the partial-rotary cos/sin tables every backend uses, as HF computes them.
//
// inv_freq[i] = 1 / base^(2i / rot) in fp32, rounded through the checkpoint's storage dtype
// (HF keeps inv_freq as a buffer in the model's dtype, so an fp16 checkpoint predicts with
// fp16-rounded frequencies: 0.0099945… for 0.01); theta = position · inv_freq;
// tables[position][i] = fp32(cos θ), fp32(sin θ) for i < rot/2.
#ifndef MEMPROF_ROTARY_H
#define MEMPROF_ROTARY_H

#include <stdint.h>

#include "memprof/checkpoint.h"

// cos_table and sin_table hold positions × (rotary_dims / 2) floats each.
void rotary_tables_compute(float *cos_table, float *sin_table, const model_config *config, tensor_dtype weight_dtype,
                           int64_t positions);

#endif
