// torch_zip.c — placeholder until the zip reader lands.
#include "memprof/weights.h"

int torch_zip_parse(tensor_view **out_tensors, int *out_count, const uint8_t *file, size_t size,
                    const char *path, memprof_error *err) {
    *out_tensors = NULL;
    *out_count = 0;
    return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: torch zip reader not written yet", path);
}
