// weights.h — the low-level weight-file parsers behind checkpoint.h.
//
// Each parser works on bytes already in memory (an mmapped file, or a fuzzer's buffer),
// never reads past `size`, and names `path` in its error messages. Tensors come back as
// tensor_view records whose `data` points into the caller's buffer; the caller frees the
// array with free() and keeps the buffer alive while the views are used.
#ifndef MEMPROF_WEIGHTS_H
#define MEMPROF_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/checkpoint.h"
#include "memprof/error.h"

// A read-only private mapping of a whole file, with its xxh64 computed once at open.
typedef struct mapped_file {
    const uint8_t *data;
    size_t size;
    uint64_t xxh64;
} mapped_file;

int mapped_file_open(mapped_file *out, const char *path, memprof_error *err);
void mapped_file_close(mapped_file *file);

// safetensors: 8-byte LE header length N, N bytes of JSON, then the data buffer.
int safetensors_parse(tensor_view **out_tensors, int *out_count,
                      const uint8_t *file, size_t size, const char *path, memprof_error *err);
// Maps a safetensors dtype string ("F16", "BOOL", ...) to a tensor_dtype; -1 when unknown.
int tensor_dtype_from_safetensors(tensor_dtype *out, const char *name);

// 0 when name[0..length) can be a tensor name: 1 to TENSOR_NAME_MAX-1 bytes, none of them a
// control character or NUL (names end up in one-line error messages).
int tensor_name_check(const char *name, size_t length);
// Copies at most out_size-1 bytes of text, '?' for anything not printable ASCII, for messages
// that quote bytes from an untrusted file.
void printable_excerpt(char *out, size_t out_size, const char *text, size_t length);

// ZIP central directory (stored entries only, ZIP64 aware).
typedef struct zip_entry {
    const char *name;      // into the archive bytes, not NUL-terminated
    size_t name_length;
    uint64_t data_offset;  // from the local header: offset + 30 + name_len + extra_len
    uint64_t size;
} zip_entry;

typedef struct zip_archive {
    zip_entry *entries;
    int64_t count;
} zip_archive;

int zip_read_directory(zip_archive *out, const uint8_t *file, size_t size,
                       const char *path, memprof_error *err);
// The entry whose name equals `name` exactly; NULL when absent.
const zip_entry *zip_find_entry(const zip_archive *zip, const char *name);
void zip_archive_free(zip_archive *zip);

// One tensor of a torch state_dict pickle, before its storage record is looked up.
typedef struct pickle_tensor {
    char name[TENSOR_NAME_MAX];
    tensor_dtype dtype;        // from the storage class (HalfStorage -> F16, ...)
    char storage_key[64];      // the record data/<key>
    int64_t storage_numel;     // elements in the storage
    int64_t storage_offset;    // in elements
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t stride[TENSOR_MAX_DIMS];
} pickle_tensor;

// Runs the whitelisted pickle interpreter over data.pkl bytes; never executes anything.
int pickle_load_state_dict(pickle_tensor **out_tensors, int *out_count,
                           const uint8_t *data, size_t size, const char *path, memprof_error *err);

// A torch.save zip (pytorch_model.bin): directory, data.pkl, storage records, byteorder.
int torch_zip_parse(tensor_view **out_tensors, int *out_count,
                    const uint8_t *file, size_t size, const char *path, memprof_error *err);

// A sharded checkpoint's index (model.safetensors.index.json, pytorch_model.bin.index.json):
//   {"metadata": {"total_size": <number, maybe a float>}, "weight_map": {"<tensor>": "<shard file>"}}
// Shard files are listed in sorted name order (the order their hashes are combined in).
typedef struct shard_index {
    int num_files;
    char (*files)[256];     // shard file names, relative to the index's folder, sorted
    int num_tensors;
    char (*tensors)[TENSOR_NAME_MAX];
    int *tensor_file;       // index into files, per tensor
} shard_index;

int shard_index_load(shard_index *out, const char *path, memprof_error *err);
// The file index holding `tensor`, or -1 when the index does not list it.
int shard_index_file_of(const shard_index *index, const char *tensor);
void shard_index_free(shard_index *index);

// Checks a checkpoint's tensors against config.json and keeps, in place, the
// ones the model uses: legacy buffers are dropped, "lm_head.weight" is renamed
// "embed_out.weight", and the result is sorted by name. `files` names the file of each
// tensor (tensor_view.file_index) in messages; `source` (the weight file, or the index for
// sharded checkpoints) is named when a tensor is missing.
int checkpoint_select_tensors(tensor_view *tensors, int *count, const model_config *config,
                              const weight_file *files, const char *source, memprof_error *err);

#endif
