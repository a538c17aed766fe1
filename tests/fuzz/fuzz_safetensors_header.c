// fuzz_safetensors_header.c — safetensors_parse over arbitrary bytes taken as a whole file.
// On success every tensor's bytes are read, so ASan flags any view outside the buffer.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tensor_view *tensors = NULL;
    int count = 0;
    memprof_error err = {0};
    if (safetensors_parse(&tensors, &count, data, size, "fuzz.safetensors", &err) == 0) {
        volatile uint8_t sink = 0;
        for (int i = 0; i < count; i++) {
            const uint8_t *bytes = tensors[i].data;
            for (size_t b = 0; b < tensors[i].nbytes; b++) sink ^= bytes[b];
        }
        (void)sink;
    } else if (err.message[0] == '\0' || strchr(err.message, '\n')) {
        abort();  // every failure leaves exactly one line of explanation
    }
    free(tensors);
    return 0;
}
