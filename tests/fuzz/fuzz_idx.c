// fuzz_idx.c — the Megatron .idx parser on arbitrary bytes: header checks, array bounds,
// and every item's pointer/size check against a pretend .bin size taken from the input.
#include <stdint.h>
#include <string.h>

#include "memprof/indexed_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    indexed_index index;
    memprof_error err;
    if (indexed_index_parse(&index, data, size, "fuzz.idx", &err) != 0) return 0;
    uint64_t bin_bytes = size > 40 ? (uint64_t)data[size - 1] << 12 | data[size - 2] : 4096;
    uint64_t limit = index.items < 4096 ? index.items : 4096;
    for (uint64_t i = 0; i < limit; i++) {
        int64_t tokens, offset;
        if (indexed_index_item(&tokens, &offset, &index, i, bin_bytes, "fuzz.idx", &err) == 0) {
            // A checked item must lie inside the .bin.
            if (offset < 0 || tokens < 0 || (uint64_t)offset + (uint64_t)tokens * (uint64_t)index.element_size > bin_bytes)
                __builtin_trap();
        }
    }
    int64_t tokens, offset;
    if (indexed_index_item(&tokens, &offset, &index, index.items, bin_bytes, "fuzz.idx", &err) == 0) __builtin_trap();
    return 0;
}
