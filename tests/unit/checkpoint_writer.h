// checkpoint_writer.h — tiny writers for test inputs: raw files, safetensors files from a
// header string, stored zip archives (optionally with every ZIP64 structure), and torch
// state_dict pickles built opcode by opcode. Header-only; used by the checkpoint tests.
#ifndef MEMPROF_CHECKPOINT_WRITER_H
#define MEMPROF_CHECKPOINT_WRITER_H

#include <ftw.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof/checkpoint.h"

// A growable byte buffer.
typedef struct byte_buffer {
    uint8_t *data;
    size_t size, capacity;
} byte_buffer;

static inline void buffer_append(byte_buffer *b, const void *bytes, size_t n) {
    if (b->size + n > b->capacity) {
        b->capacity = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->capacity);
    }
    if (n) memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

static inline void buffer_le(byte_buffer *b, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; i++) {
        uint8_t byte = (uint8_t)(value >> (8 * i));
        buffer_append(b, &byte, 1);
    }
}

static inline void buffer_text(byte_buffer *b, const char *text) { buffer_append(b, text, strlen(text)); }

static inline int write_bytes(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t wrote = n ? fwrite(bytes, 1, n, f) : 0;
    return fclose(f) == 0 && wrote == n ? 0 : -1;
}

static inline int write_text(const char *path, const char *text) { return write_bytes(path, text, strlen(text)); }

// Reads a whole (small) file; NULL on failure. *size gets its length.
static uint8_t *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n + 1 : 1);
    *size = fread(data, 1, n > 0 ? (size_t)n : 0, f);
    data[*size] = 0;
    fclose(f);
    return data;
}

static inline int copy_file(const char *to, const char *from) {
    size_t n;
    uint8_t *data = read_whole_file(from, &n);
    int status = data ? write_bytes(to, data, n) : -1;
    free(data);
    return status;
}

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

// Deletes a temporary folder and everything in it.
static inline void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

// "<directory>/<name>" into a static rotating buffer (enough for a few live paths at once).
static const char *path_in(const char *directory, const char *name) {
    static char paths[8][4096];
    static int next = 0;
    char *out = paths[next++ % 8];
    snprintf(out, sizeof paths[0], "%s/%s", directory, name);
    return out;
}

// A safetensors file: 8-byte length, the header padded with spaces to a multiple of 8, data.
static inline int write_safetensors(const char *path, const char *header, const void *data, size_t data_size) {
    byte_buffer b = {0};
    size_t padded = (strlen(header) + 7) / 8 * 8;
    buffer_le(&b, padded, 8);
    buffer_text(&b, header);
    for (size_t i = strlen(header); i < padded; i++) buffer_append(&b, " ", 1);
    buffer_append(&b, data, data_size);
    int status = write_bytes(path, b.data, b.size);
    free(b.data);
    return status;
}

// A safetensors header + data for views (names as given), tightly packed in order.
static inline void build_safetensors(byte_buffer *out, const tensor_view *const *views, int count) {
    byte_buffer header = {0}, data = {0};
    buffer_text(&header, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < count; i++) {
        char entry[1024];
        int n = snprintf(entry, sizeof entry, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", views[i]->name,
                         tensor_dtype_name(views[i]->dtype));
        for (int d = 0; d < views[i]->ndim; d++)
            n += snprintf(entry + n, sizeof entry - (size_t)n, "%s%lld", d ? "," : "", (long long)views[i]->shape[d]);
        snprintf(entry + n, sizeof entry - (size_t)n, "],\"data_offsets\":[%zu,%zu]}", data.size,
                 data.size + views[i]->nbytes);
        buffer_text(&header, entry);
        buffer_append(&data, views[i]->data, views[i]->nbytes);
    }
    buffer_text(&header, "}");
    while (header.size % 8) buffer_append(&header, " ", 1);
    buffer_le(out, header.size, 8);
    buffer_append(out, header.data, header.size);
    buffer_append(out, data.data, data.size);
    free(header.data);
    free(data.data);
}

// One stored zip record.
typedef struct zip_record {
    const char *name;
    const void *data;
    size_t size;
} zip_record;

// A stored zip (CRCs left 0: the reader does not check them). With zip64, every size and
// offset in the central directory is 0xFFFFFFFF with the real value in a ZIP64 extra field,
// and the EOCD points to a ZIP64 EOCD record. Local headers carry an 'FB' padding extra
// field so data starts 64-aligned, as torch writes it.
static inline void build_zip(byte_buffer *out, const zip_record *records, int count, int zip64) {
    uint64_t *offsets = calloc((size_t)count, sizeof *offsets);
    for (int i = 0; i < count; i++) {
        offsets[i] = out->size;
        size_t name_length = strlen(records[i].name);
        size_t header_end = out->size + 30 + name_length + 4;
        size_t padding = (64 - header_end % 64) % 64;
        buffer_le(out, 0x04034b50, 4);
        buffer_le(out, 20, 2);              // version needed
        buffer_le(out, 0, 2);               // flags
        buffer_le(out, 0, 2);               // method: stored
        buffer_le(out, 0, 4);               // time, date
        buffer_le(out, 0, 4);               // crc
        buffer_le(out, records[i].size, 4); // compressed
        buffer_le(out, records[i].size, 4); // uncompressed
        buffer_le(out, name_length, 2);
        buffer_le(out, 4 + padding, 2);
        buffer_text(out, records[i].name);
        buffer_le(out, 0x4246, 2);          // 'FB'
        buffer_le(out, padding, 2);
        for (size_t p = 0; p < padding; p++) buffer_append(out, "Z", 1);
        buffer_append(out, records[i].data, records[i].size);
    }
    uint64_t directory = out->size;
    for (int i = 0; i < count; i++) {
        size_t name_length = strlen(records[i].name);
        buffer_le(out, 0x02014b50, 4);
        buffer_le(out, 45, 2);
        buffer_le(out, 45, 2);
        buffer_le(out, 0, 2);
        buffer_le(out, 0, 2);
        buffer_le(out, 0, 4);
        buffer_le(out, 0, 4);
        buffer_le(out, zip64 ? 0xffffffffu : records[i].size, 4);
        buffer_le(out, zip64 ? 0xffffffffu : records[i].size, 4);
        buffer_le(out, name_length, 2);
        buffer_le(out, zip64 ? 28 : 0, 2);  // extra length
        buffer_le(out, 0, 2);               // comment
        buffer_le(out, 0, 2);               // disk
        buffer_le(out, 0, 2);               // internal attributes
        buffer_le(out, 0, 4);               // external attributes
        buffer_le(out, zip64 ? 0xffffffffu : offsets[i], 4);
        buffer_text(out, records[i].name);
        if (zip64) {
            buffer_le(out, 0x0001, 2);
            buffer_le(out, 24, 2);
            buffer_le(out, records[i].size, 8);
            buffer_le(out, records[i].size, 8);
            buffer_le(out, offsets[i], 8);
        }
    }
    uint64_t directory_size = out->size - directory;
    if (zip64) {
        uint64_t record = out->size;
        buffer_le(out, 0x06064b50, 4);
        buffer_le(out, 44, 8);
        buffer_le(out, 45, 2);
        buffer_le(out, 45, 2);
        buffer_le(out, 0, 4);
        buffer_le(out, 0, 4);
        buffer_le(out, (uint64_t)count, 8);
        buffer_le(out, (uint64_t)count, 8);
        buffer_le(out, directory_size, 8);
        buffer_le(out, directory, 8);
        buffer_le(out, 0x07064b50, 4);
        buffer_le(out, 0, 4);
        buffer_le(out, record, 8);
        buffer_le(out, 1, 4);
    }
    buffer_le(out, 0x06054b50, 4);
    buffer_le(out, 0, 4);
    buffer_le(out, zip64 ? 0xffff : (uint64_t)count, 2);
    buffer_le(out, zip64 ? 0xffff : (uint64_t)count, 2);
    buffer_le(out, zip64 ? 0xffffffffu : directory_size, 4);
    buffer_le(out, zip64 ? 0xffffffffu : directory, 4);
    buffer_le(out, 0, 2);
    free(offsets);
}

// Pickle pieces (protocol 2, as torch.save writes them).
static inline void pickle_op(byte_buffer *b, uint8_t op) { buffer_append(b, &op, 1); }

static inline void pickle_string(byte_buffer *b, const char *s) {
    pickle_op(b, 'X');
    buffer_le(b, strlen(s), 4);
    buffer_text(b, s);
}

static inline void pickle_int(byte_buffer *b, int64_t v) {
    if (v >= 0 && v < 256) {
        pickle_op(b, 'K');
        buffer_le(b, (uint64_t)v, 1);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        pickle_op(b, 'J');
        buffer_le(b, (uint64_t)v, 4);
    } else {
        pickle_op(b, 0x8a);
        buffer_le(b, 8, 1);
        buffer_le(b, (uint64_t)v, 8);
    }
}

static inline void pickle_global(byte_buffer *b, const char *module, const char *name) {
    pickle_op(b, 'c');
    buffer_text(b, module);
    buffer_text(b, "\n");
    buffer_text(b, name);
    buffer_text(b, "\n");
}

static inline void pickle_int_tuple(byte_buffer *b, int n, const int64_t *values) {
    pickle_op(b, '(');
    for (int i = 0; i < n; i++) pickle_int(b, values[i]);
    pickle_op(b, 't');
}

// One state_dict entry: name -> _rebuild_tensor_v2(storage(key), offset, shape, stride, False, OrderedDict()).
static inline void pickle_tensor_entry(byte_buffer *b, const char *name, const char *storage_class, const char *key,
                                int64_t storage_numel, int64_t offset, int ndim, const int64_t *shape,
                                const int64_t *stride) {
    pickle_string(b, name);
    pickle_global(b, "torch._utils", "_rebuild_tensor_v2");
    pickle_op(b, '(');
    pickle_op(b, '(');
    pickle_string(b, "storage");
    pickle_global(b, "torch", storage_class);
    pickle_string(b, key);
    pickle_string(b, "cpu");
    pickle_int(b, storage_numel);
    pickle_op(b, 't');
    pickle_op(b, 'Q');
    pickle_int(b, offset);
    pickle_int_tuple(b, ndim, shape);
    pickle_int_tuple(b, ndim, stride);
    pickle_op(b, 0x89);
    pickle_global(b, "collections", "OrderedDict");
    pickle_op(b, ')');
    pickle_op(b, 'R');
    pickle_op(b, 't');
    pickle_op(b, 'R');
}

static inline void pickle_begin_state_dict(byte_buffer *b) {
    pickle_op(b, 0x80);
    pickle_op(b, 2);
    pickle_op(b, '}');
    pickle_op(b, '(');
}

static inline void pickle_end_state_dict(byte_buffer *b) {
    pickle_op(b, 'u');
    pickle_op(b, '.');
}

static const char *storage_class_of(tensor_dtype dtype) {
    switch (dtype) {
    case TENSOR_F16: return "HalfStorage";
    case TENSOR_BF16: return "BFloat16Storage";
    case TENSOR_F32: return "FloatStorage";
    default: return "ByteStorage";
    }
}

// A whole torch.save zip for views: folder/data.pkl, folder/data/<i>, folder/byteorder.
static inline void build_torch_zip(byte_buffer *out, const char *folder, const tensor_view *const *views, int count,
                            int zip64) {
    byte_buffer pickle = {0};
    pickle_begin_state_dict(&pickle);
    char (*names)[64] = calloc((size_t)count + 2, sizeof *names);
    zip_record *records = calloc((size_t)count + 2, sizeof *records);
    snprintf(names[0], sizeof names[0], "%s/data.pkl", folder);
    snprintf(names[1], sizeof names[1], "%s/byteorder", folder);
    records[1] = (zip_record){names[1], "little", 6};
    for (int i = 0; i < count; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        int64_t stride[TENSOR_MAX_DIMS], running = 1;
        for (int d = views[i]->ndim - 1; d >= 0; d--) {
            stride[d] = running;
            running *= views[i]->shape[d];
        }
        pickle_tensor_entry(&pickle, views[i]->name, storage_class_of(views[i]->dtype), key, views[i]->numel, 0,
                            views[i]->ndim, views[i]->shape, stride);
        snprintf(names[i + 2], sizeof names[i + 2], "%s/data/%d", folder, i);
        records[i + 2] = (zip_record){names[i + 2], views[i]->data, views[i]->nbytes};
    }
    pickle_end_state_dict(&pickle);
    records[0] = (zip_record){names[0], pickle.data, pickle.size};
    build_zip(out, records, count + 2, zip64);
    free(pickle.data);
    free(names);
    free(records);
}

#endif
