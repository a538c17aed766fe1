// test_checkpoint_errors.c — bad checkpoints, each written at test time into its own folder
// of a temporary directory and opened with checkpoint_open. Every case must fail with a
// message that names the offending file and the cause (and must not crash under
// `make sanitize`).
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint_writer.h"
#include "memprof/checkpoint.h"
#include "test.h"

#define F32_DIR "tests/fixtures/tiny-neox-f32-safetensors"

static char root[] = "/tmp/memprof-errors-XXXXXX";

// A fresh folder "<root>/<name>" holding the fixture's config.json.
static const char *new_case(const char *name) {
    static char directory[4096];
    snprintf(directory, sizeof directory, "%s/%s", root, name);
    mkdir(directory, 0700);
    copy_file(path_in(directory, "config.json"), F32_DIR "/config.json");
    return directory;
}

// Opens directory; expects failure with a message containing `file` and `cause`.
static void expect_error(const char *label, const char *directory, const char *file, const char *cause) {
    checkpoint *ckpt = NULL;
    memprof_error err = {0};
    int status = checkpoint_open(&ckpt, directory, &err);
    CHECK(label, status < 0 && ckpt == NULL && strstr(err.message, file) && strstr(err.message, cause),
          "status %d, message \"%s\" (want \"%s\" and \"%s\")", status, err.message, file, cause);
    checkpoint_close(ckpt);
}

static void safetensors_case(const char *label, const char *name, const char *header, size_t data_size,
                             const char *cause) {
    const char *directory = new_case(name);
    uint8_t *data = calloc(data_size + 1, 1);
    write_safetensors(path_in(directory, "model.safetensors"), header, data, data_size);
    free(data);
    expect_error(label, directory, "/model.safetensors", cause);
}

// A one-tensor torch zip whose pickle is `pickle`, with records data/0 (size bytes) unless
// omitted, and an optional byteorder text.
static void torch_case(const char *label, const char *name, const byte_buffer *pickle, size_t record_size,
                       int with_record, const char *byteorder, const char *cause) {
    const char *directory = new_case(name);
    uint8_t *data = calloc(record_size + 1, 1);
    zip_record records[3] = {{"archive/data.pkl", pickle->data, pickle->size}};
    int count = 1;
    if (with_record) records[count++] = (zip_record){"archive/data/0", data, record_size};
    if (byteorder) records[count++] = (zip_record){"archive/byteorder", byteorder, strlen(byteorder)};
    byte_buffer zip = {0};
    build_zip(&zip, records, count, 0);
    write_bytes(path_in(directory, "pytorch_model.bin"), zip.data, zip.size);
    free(zip.data);
    free(data);
    expect_error(label, directory, "/pytorch_model.bin", cause);
}

// A state_dict with one F32 tensor "w" of `shape` over storage "0" (storage_numel elements).
static void one_tensor_pickle(byte_buffer *b, int64_t storage_numel, int64_t offset, int ndim, const int64_t *shape,
                              const int64_t *stride) {
    pickle_begin_state_dict(b);
    pickle_tensor_entry(b, "w", "FloatStorage", "0", storage_numel, offset, ndim, shape, stride);
    pickle_end_state_dict(b);
}

static void safetensors_cases(void) {
    // Truncated: the fixture's file minus its last 1000 bytes.
    const char *directory = new_case("truncated");
    size_t size;
    uint8_t *whole = read_whole_file(F32_DIR "/model.safetensors", &size);
    write_bytes(path_in(directory, "model.safetensors"), whole, size - 1000);
    expect_error("truncated safetensors", directory, "/model.safetensors", "truncated");
    write_bytes(path_in(directory, "model.safetensors"), whole, 5);
    expect_error("safetensors shorter than its length field", directory, "/model.safetensors",
                 "shorter than the 8-byte header length");
    free(whole);

    directory = new_case("header-past-end");
    uint8_t bytes[64] = {0x88, 0x13, 0, 0, 0, 0, 0, 0, '{', '}'};  // N = 5000, file 64 bytes
    write_bytes(path_in(directory, "model.safetensors"), bytes, sizeof bytes);
    expect_error("header length past end of file", directory, "/model.safetensors", "runs past the end of the file");
    uint8_t huge[16] = {0x00, 0xc2, 0xeb, 0x0b, 0, 0, 0, 0, '{', '}'};  // N = 200,000,000
    write_bytes(path_in(directory, "model.safetensors"), huge, sizeof huge);
    expect_error("header length over 100 MB", directory, "/model.safetensors", "exceeds the limit");

    safetensors_case("overlapping offsets", "overlap",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                     24, "overlapping data_offsets");
    safetensors_case("gapped offsets", "gap",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}",
                     36, "gap in the data buffer");
    safetensors_case("dtype/shape size mismatch", "size-mismatch",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8, "needs 16");
    safetensors_case("trailing bytes after the data buffer", "trailing",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "trailing bytes");
    safetensors_case("header not starting with {", "not-object", " {}", 0, "does not start with '{'");
    safetensors_case("unknown dtype", "dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                     2, "dtype \"F8_E4M3\" is not supported");
    safetensors_case("negative shape", "negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}",
                     0, "shape[0] is not a non-negative integer");
    safetensors_case("non-string metadata", "metadata", "{\"__metadata__\":{\"format\":1}}", 0,
                     "\"__metadata__\" value of \"format\" is not a string");
    safetensors_case("duplicate tensor names", "duplicate",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                     8, "duplicate");
    safetensors_case("invalid header JSON", "json", "{\"a\": [1, 2}", 0, "header JSON");
    safetensors_case("offsets ending before they begin", "reversed",
                     "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "end before they begin");
}

static void torch_cases(void) {
    int64_t shape[2] = {2, 3}, stride[2] = {3, 1};
    byte_buffer pickle = {0};
    one_tensor_pickle(&pickle, 6, 0, 2, shape, stride);
    torch_case("zip with a missing data record", "missing-record", &pickle, 24, 0, NULL,
               "data record \"archive/data/0\" referenced by data.pkl is missing");
    torch_case("storage record of the wrong size", "record-size", &pickle, 20, 1, NULL, "holds 20 bytes");
    torch_case("big-endian byteorder refused", "big-endian", &pickle, 24, 1, "big", "big-endian");
    free(pickle.data);

    pickle = (byte_buffer){0};
    pickle_begin_state_dict(&pickle);
    pickle_string(&pickle, "w");
    pickle_global(&pickle, "os", "system");
    pickle_string(&pickle, "echo pwned");
    pickle_op(&pickle, 0x85);
    pickle_op(&pickle, 'R');
    pickle_end_state_dict(&pickle);
    torch_case("pickle with a forbidden GLOBAL (os system)", "os-system", &pickle, 0, 0, NULL,
               "forbidden GLOBAL \"os system\"");
    free(pickle.data);

    pickle = (byte_buffer){0};  // protocol 4 spelling: STACK_GLOBAL
    pickle_op(&pickle, 0x80);
    pickle_op(&pickle, 4);
    pickle_string(&pickle, "builtins");
    pickle_string(&pickle, "eval");
    pickle_op(&pickle, 0x93);
    pickle_op(&pickle, '.');
    torch_case("pickle with a forbidden STACK_GLOBAL (builtins eval)", "eval", &pickle, 0, 0, NULL,
               "forbidden GLOBAL \"builtins eval\"");
    free(pickle.data);

    int64_t bad_stride[2] = {1, 2};
    pickle = (byte_buffer){0};
    one_tensor_pickle(&pickle, 6, 0, 2, shape, bad_stride);
    torch_case("non-contiguous stride", "stride", &pickle, 24, 1, NULL, "non-contiguous stride");
    free(pickle.data);

    pickle = (byte_buffer){0};
    one_tensor_pickle(&pickle, 6, 1, 2, shape, stride);
    torch_case("storage offset + size past the storage", "offset", &pickle, 24, 1, NULL,
               "runs past the end of the storage");
    free(pickle.data);

    pickle = (byte_buffer){0};
    pickle_op(&pickle, 0x80);
    pickle_op(&pickle, 2);
    pickle_op(&pickle, '}');
    torch_case("pickle without STOP", "no-stop", &pickle, 0, 0, NULL, "ends without STOP");
    free(pickle.data);

    const char *directory = new_case("legacy");
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    write_bytes(path_in(directory, "pytorch_model.bin"), legacy, sizeof legacy);
    expect_error("non-zip (legacy) .bin refused", directory, "/pytorch_model.bin",
                 "legacy (non-zip) torch format not supported");

    // A compressed (deflate) entry: the method field of the central directory patched to 8.
    directory = new_case("deflate");
    pickle = (byte_buffer){0};
    one_tensor_pickle(&pickle, 6, 0, 2, shape, stride);
    zip_record records[1] = {{"archive/data.pkl", pickle.data, pickle.size}};
    byte_buffer zip = {0};
    build_zip(&zip, records, 1, 0);
    for (size_t i = 0; i + 4 <= zip.size; i++)
        if (memcmp(zip.data + i, "PK\x01\x02", 4) == 0) zip.data[i + 10] = 8;
    write_bytes(path_in(directory, "pytorch_model.bin"), zip.data, zip.size);
    expect_error("compressed zip entry refused", directory, "/pytorch_model.bin", "is compressed (method 8)");
    free(zip.data);
    free(pickle.data);

    directory = new_case("not-a-zip");
    static const uint8_t junk[40] = {'P', 'K', 3, 4};
    write_bytes(path_in(directory, "pytorch_model.bin"), junk, sizeof junk);
    expect_error("zip without a central directory", directory, "/pytorch_model.bin",
                 "no zip end-of-central-directory record");
}

// Checkpoints whose files parse but whose tensors do not fit config.json.
static void inventory_cases(const checkpoint *source) {
    static const char *names[] = {"gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm.weight",
                                  "gpt_neox.final_layer_norm.bias", "embed_out.weight"};
    const tensor_view *views[40];
    int n = 0;
    for (int i = 0; i < 3; i++) views[n++] = checkpoint_tensor(source, names[i]);
    char name[TENSOR_NAME_MAX];
    static const char *layer_parts[] = {
        "input_layernorm.weight", "input_layernorm.bias", "post_attention_layernorm.weight",
        "post_attention_layernorm.bias", "attention.query_key_value.weight", "attention.query_key_value.bias",
        "attention.dense.weight", "attention.dense.bias", "mlp.dense_h_to_4h.weight", "mlp.dense_h_to_4h.bias",
        "mlp.dense_4h_to_h.weight", "mlp.dense_4h_to_h.bias",
    };
    for (int layer = 0; layer < 2; layer++)
        for (int k = 0; k < 12; k++) {
            snprintf(name, sizeof name, "gpt_neox.layers.%d.%s", layer, layer_parts[k]);
            views[n++] = checkpoint_tensor(source, name);
        }
    views[n] = checkpoint_tensor(source, names[3]);  // the LM head, left out of the first n
    byte_buffer file = {0};

    // Shape mismatch: config.json says intermediate_size 128.
    const char *directory = new_case("shape");
    write_text(path_in(directory, "config.json"),
               "{\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_hidden_layers\": 2, "
               "\"intermediate_size\": 128, \"vocab_size\": 1024, \"rotary_pct\": 0.25}");
    copy_file(path_in(directory, "model.safetensors"), F32_DIR "/model.safetensors");
    expect_error("tensor shape mismatch", directory, "/model.safetensors",
                 "\"gpt_neox.layers.0.mlp.dense_4h_to_h.weight\": shape mismatch: expected [64, 128] from "
                 "config.json, found [64, 256]");

    directory = new_case("missing-field");
    write_text(path_in(directory, "config.json"),
               "{\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"rotary_pct\": 0.25,"
               " \"vocab_size\": 1024}");
    copy_file(path_in(directory, "model.safetensors"), F32_DIR "/model.safetensors");
    expect_error("config.json with a missing required field", directory, "/config.json",
                 "missing required field \"intermediate_size\"");

    directory = new_case("no-lm-head");
    build_safetensors(&file, views, n);
    write_bytes(path_in(directory, "model.safetensors"), file.data, file.size);
    expect_error("no LM head", directory, "/model.safetensors", "missing tensor \"embed_out.weight\" (or lm_head.weight)");

    directory = new_case("two-lm-heads");
    tensor_view head = *views[n];
    snprintf(head.name, sizeof head.name, "lm_head.weight");
    views[n + 1] = &head;
    file.size = 0;
    build_safetensors(&file, views, n + 2);
    write_bytes(path_in(directory, "model.safetensors"), file.data, file.size);
    expect_error("both embed_out.weight and lm_head.weight", directory, "/model.safetensors",
                 "holds both embed_out.weight and lm_head.weight");

    directory = new_case("unexpected");
    tensor_view extra = *views[0];
    snprintf(extra.name, sizeof extra.name, "gpt_neox.layers.2.mlp.dense_h_to_4h.weight");
    views[n + 1] = &extra;
    file.size = 0;
    build_safetensors(&file, views, n + 2);
    write_bytes(path_in(directory, "model.safetensors"), file.data, file.size);
    expect_error("unexpected tensor", directory, "/model.safetensors",
                 "unexpected tensor \"gpt_neox.layers.2.mlp.dense_h_to_4h.weight\"");

    directory = new_case("wrong-dtype");
    uint8_t zeros[64 * 8] = {0};
    tensor_view as_int = {.name = "gpt_neox.final_layer_norm.bias", .dtype = TENSOR_I64, .ndim = 1, .shape = {64},
                          .numel = 64, .data = zeros, .nbytes = sizeof zeros};
    const tensor_view *swapped[40];
    memcpy(swapped, views, (size_t)(n + 1) * sizeof *swapped);
    swapped[2] = &as_int;
    file.size = 0;
    build_safetensors(&file, swapped, n + 1);
    write_bytes(path_in(directory, "model.safetensors"), file.data, file.size);
    expect_error("weight stored as I64", directory, "/model.safetensors", "dtype I64 is not supported");

    // Sharded: the index names a shard that does not exist, or lists a tensor a shard lacks.
    directory = new_case("missing-shard");
    write_text(path_in(directory, "model.safetensors.index.json"),
               "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {\"gpt_neox.embed_in.weight\": \"model-1.safetensors\"}}");
    expect_error("index naming a missing shard", directory, "/model-1.safetensors", "cannot open");
    file.size = 0;
    build_safetensors(&file, views, n);
    write_bytes(path_in(directory, "model-1.safetensors"), file.data, file.size);
    write_text(path_in(directory, "model.safetensors.index.json"),
               "{\"weight_map\": {\"gpt_neox.embed_in.weight\": \"model-1.safetensors\", \"embed_out.weight\": "
               "\"model-1.safetensors\"}}");
    expect_error("shard tensor not listed in the index", directory, "/model-1.safetensors",
                 "is not listed in");
    write_text(path_in(directory, "model.safetensors.index.json"),
               "{\"weight_map\": {\"gpt_neox.embed_in.weight\": \"../model-1.safetensors\"}}");
    expect_error("shard name with a path", directory, "model.safetensors.index.json", "not a plain file name");

    directory = new_case("no-weights");
    expect_error("folder without weight files", directory, "no-weights", "no weight files");
    write_bytes(path_in(directory, "pytorch_model.bin"), "", 0);
    expect_error("empty weight file", directory, "/pytorch_model.bin", "file is empty");
    free(file.data);
}

int main(void) {
    if (!mkdtemp(root)) return 1;
    checkpoint *source = NULL;
    memprof_error err = {0};
    if (checkpoint_open(&source, F32_DIR, &err) != 0) {
        printf("FAIL errors: cannot open the f32 fixture: %s\n", err.message);
        return 1;
    }
    safetensors_cases();
    torch_cases();
    inventory_cases(source);
    checkpoint_close(source);
    remove_tree(root);
    return test_failures != 0;
}
