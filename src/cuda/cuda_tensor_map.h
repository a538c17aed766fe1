// cuda_tensor_map.h — host side of Hopper's tensor memory accelerator (TMA): a tensor map
// describes a 2-D tensor of 16-bit elements in device memory and the box one bulk copy moves
// into shared memory, laid out with the wgmma swizzle of W bytes (cuda_common.cuh,
// swizzled_chunk_offset: one box = one atom column of box_rows rows of W bytes). Rows and
// columns past the tensor's end arrive as zeros. The driver's encoder is reached through the
// runtime (cudaGetDriverEntryPointByVersion), so nothing links libcuda; under the CPU
// emulator the emulated runtime returns its own encoder (tests/emulator).
#ifndef MEMPROF_CUDA_TENSOR_MAP_H
#define MEMPROF_CUDA_TENSOR_MAP_H

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdint.h>

typedef CUresult (*tensor_map_encoder)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *, const cuuint64_t *,
                                       const cuuint64_t *, const cuuint32_t *, const cuuint32_t *, CUtensorMapInterleave,
                                       CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// The driver's encoder, or NULL where this driver has none.
static inline tensor_map_encoder tensor_map_encoder_find(void) {
    void *function = NULL;
    enum cudaDriverEntryPointQueryResult found;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &function, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
        return NULL;
    return (tensor_map_encoder)function;
}

// map = rows × columns elements at base (row pitch row_bytes), boxes of box_columns ×
// box_rows with the W-byte swizzle (box_columns · 2 = W). Returns 0, or a cudaError_t
// (cudaErrorInvalidValue where the driver refuses the map or has no encoder).
static inline int tensor_map_2d(CUtensorMap *map, const void *base, int bfloat, uint64_t columns, uint64_t rows,
                                uint64_t row_bytes, uint32_t box_columns, uint32_t box_rows, int swizzle_bytes) {
    // Looked up per map (microseconds, once per attention launch): no process-wide cache.
    tensor_map_encoder encode = tensor_map_encoder_find();
    if (encode == NULL) return (int)cudaErrorInvalidValue;
    cuuint64_t dims[2] = {columns, rows}, strides[1] = {row_bytes};
    cuuint32_t box[2] = {box_columns, box_rows}, element_strides[2] = {1, 1};
    CUtensorMapSwizzle swizzle = swizzle_bytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B
                                 : swizzle_bytes == 64 ? CU_TENSOR_MAP_SWIZZLE_64B
                                                       : CU_TENSOR_MAP_SWIZZLE_32B;
    CUresult result = encode(map, bfloat ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2,
                             (void *)base, dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return result == CUDA_SUCCESS ? 0 : (int)cudaErrorInvalidValue;
}

#endif
