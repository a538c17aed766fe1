// fuzz_zip_directory.c — the zip central directory walk (zip_read_directory) and the whole
// torch zip path on top of it (torch_zip_parse: folder, byteorder, data.pkl, records) over
// arbitrary bytes. Every entry's and tensor's first and last byte is read, so ASan flags
// any range outside the buffer.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    volatile uint8_t sink = 0;
    memprof_error err = {0};
    zip_archive zip;
    if (zip_read_directory(&zip, data, size, "fuzz.zip", &err) == 0) {
        for (int64_t i = 0; i < zip.count; i++) {
            const zip_entry *e = &zip.entries[i];
            if (e->name_length) sink ^= (uint8_t)e->name[e->name_length - 1];
            if (e->size) sink ^= data[e->data_offset] ^ data[e->data_offset + e->size - 1];
        }
        (void)zip_find_entry(&zip, "archive/data.pkl");
        zip_archive_free(&zip);
    } else if (err.message[0] == '\0' || strchr(err.message, '\n')) {
        abort();  // every failure leaves exactly one line of explanation
    }
    err = (memprof_error){0};
    tensor_view *tensors = NULL;
    int count = 0;
    if (torch_zip_parse(&tensors, &count, data, size, "fuzz.bin", &err) == 0) {
        for (int i = 0; i < count; i++) {
            const uint8_t *bytes = tensors[i].data;
            if (tensors[i].nbytes) sink ^= bytes[0] ^ bytes[tensors[i].nbytes - 1];
        }
    } else if (err.message[0] == '\0' || strchr(err.message, '\n')) {
        abort();
    }
    free(tensors);
    (void)sink;
    return 0;
}
