// fuzz_pickle.c — the whitelisted pickle interpreter (pickle_load_state_dict) over arbitrary
// bytes: it must return an error, never crash, leak or run away.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pickle_tensor *tensors = NULL;
    int count = 0;
    memprof_error err = {0};
    if (pickle_load_state_dict(&tensors, &count, data, size, "fuzz.pkl", &err) == 0) {
        volatile size_t sink = 0;
        for (int i = 0; i < count; i++) sink += strlen(tensors[i].name) + strlen(tensors[i].storage_key);
        (void)sink;
    } else if (err.message[0] == '\0' || strchr(err.message, '\n')) {
        abort();  // every failure leaves exactly one line of explanation
    }
    free(tensors);
    return 0;
}
