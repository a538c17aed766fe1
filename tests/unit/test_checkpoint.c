// test_checkpoint.c — both fixtures open, their config and every tensor match values read
// by independent readers (tests/fixtures/tensor-reference.txt, written by
// tests/fixtures/make-tensor-reference.py), the two fixtures agree on names and shapes,
// and tensor_read_f32 converts F16 / BF16 special values exactly.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/checkpoint.h"
#include "test.h"

#define F32_DIR "tests/fixtures/tiny-neox-f32-safetensors"
#define F16_DIR "tests/fixtures/tiny-neox-f16-bin"
#define REFERENCE "tests/fixtures/tensor-reference.txt"
#define CHECKSUMS "tests/fixtures/checksum-reference.txt"

static void check_config(const char *label, const checkpoint *ckpt) {
    const model_config *c = checkpoint_config(ckpt);
    char name[128];
    snprintf(name, sizeof name, "%s config values", label);
    CHECK(name,
          c->hidden_size == 64 && c->num_attention_heads == 4 && c->num_hidden_layers == 2 &&
              c->intermediate_size == 256 && c->vocab_size == 1024 && c->head_dim == 16 && c->rotary_dims == 4 &&
              c->rotary_fraction == 0.25 && c->rotary_base == 10000.0 && c->layer_norm_eps == 1e-5,
          "d=%d H=%d L=%d ff=%d V=%d hd=%d rot=%d frac=%g base=%g eps=%g", c->hidden_size,
          c->num_attention_heads, c->num_hidden_layers, c->intermediate_size, c->vocab_size, c->head_dim,
          c->rotary_dims, c->rotary_fraction, c->rotary_base, c->layer_norm_eps);
}

// Same operations, same order as make-tensor-reference.py: float32 -> float64, sequential sums.
static void check_tensor_values(const char *fixture, const checkpoint *ckpt, const char *line) {
    char want_fixture[64], tensor[TENSOR_NAME_MAX], dtype[8], shape[64];
    double first, last, sum, weighted;
    if (sscanf(line, "%63s %255s %7s %63s %lf %lf %lf %lf", want_fixture, tensor, dtype, shape, &first, &last, &sum,
               &weighted) != 8 || strcmp(want_fixture, fixture) != 0)
        return;
    char name[400];
    snprintf(name, sizeof name, "%s %s matches the reference", fixture, tensor);
    const tensor_view *t = checkpoint_tensor(ckpt, tensor);
    if (t == NULL) {
        CHECK(name, 0, "tensor missing");
        return;
    }
    char got_shape[64] = "";
    for (int i = 0; i < t->ndim; i++)
        snprintf(got_shape + strlen(got_shape), sizeof got_shape - strlen(got_shape), "%s%lld", i ? "," : "",
                 (long long)t->shape[i]);
    float *values = malloc((size_t)t->numel * sizeof *values);
    memprof_error err = {0};
    int status = tensor_read_f32(values, t, &err);
    double got_sum = 0, got_weighted = 0;
    for (int64_t i = 0; status == 0 && i < t->numel; i++) {
        got_sum += (double)values[i];
        got_weighted += (double)values[i] * (double)(i % 7 + 1);
    }
    CHECK(name,
          status == 0 && strcmp(tensor_dtype_name(t->dtype), dtype) == 0 && strcmp(got_shape, shape) == 0 &&
              (double)values[0] == first && (double)values[t->numel - 1] == last && got_sum == sum &&
              got_weighted == weighted,
          "status %d (%s) dtype %s/%s shape %s/%s first %.17g/%.17g sum %.17g/%.17g weighted %.17g/%.17g", status,
          err.message, tensor_dtype_name(t->dtype), dtype, got_shape, shape, (double)values[0], first, got_sum, sum,
          got_weighted, weighted);
    free(values);
}

static int count_reference_lines(const char *fixture, char lines[][512], int max) {
    FILE *f = fopen(REFERENCE, "r");
    int n = 0;
    if (!f) return 0;
    char line[512];
    while (n < max && fgets(line, sizeof line, f))
        if (strncmp(line, fixture, strlen(fixture)) == 0 && line[strlen(fixture)] == ' ') strcpy(lines[n++], line);
    fclose(f);
    return n;
}

// File size, file xxh64 and checkpoint checksum against the Python xxhash package.
static void check_hashes(const char *label, const checkpoint *ckpt) {
    FILE *f = fopen(CHECKSUMS, "r");
    char line[512], fixture[128], file_name[128], file_hash[32], checksum[32];
    unsigned long long size = 0;
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = sscanf(line, "%127s %127s %llu %31s %31s", fixture, file_name, &size, file_hash, checksum) == 5 &&
                strcmp(fixture, label) == 0;
    if (f) fclose(f);
    char name[256], got_file[17], got_checksum[17];
    const weight_file *file = checkpoint_file(ckpt, 0);
    snprintf(got_file, sizeof got_file, "%016llx", (unsigned long long)file->xxh64);
    checkpoint_checksum(got_checksum, ckpt);
    snprintf(name, sizeof name, "%s file xxh64 and checkpoint checksum match the xxhash package", label);
    CHECK(name, found && file->size == size && strcmp(got_file, file_hash) == 0 && strcmp(got_checksum, checksum) == 0,
          "found %d size %zu/%llu file %s/%s checksum %s/%s", found, file->size, size, got_file, file_hash,
          got_checksum, checksum);
}

static void check_fixture(const char *label, const char *directory, checkpoint **out) {
    memprof_error err = {0};
    char name[128];
    snprintf(name, sizeof name, "%s opens", label);
    int status = checkpoint_open(out, directory, &err);
    CHECK(name, status == 0 && *out != NULL, "status %d: %s", status, err.message);
    if (status) return;
    check_config(label, *out);
    static char lines[64][512];
    int n = count_reference_lines(label, lines, 64);
    snprintf(name, sizeof name, "%s reference has 28 tensors", label);
    CHECK(name, n == 28, "%d lines in " REFERENCE, n);
    for (int i = 0; i < n; i++) check_tensor_values(label, *out, lines[i]);
    snprintf(name, sizeof name, "%s buffers and lm_head alias are not exposed", label);
    CHECK(name,
          checkpoint_tensor(*out, "gpt_neox.layers.0.attention.bias") == NULL &&
              checkpoint_tensor(*out, "gpt_neox.layers.1.attention.rotary_emb.inv_freq") == NULL &&
              checkpoint_tensor(*out, "lm_head.weight") == NULL && checkpoint_tensor(*out, "embed_out.weight") != NULL,
          "a buffer or lm_head.weight is visible");
    snprintf(name, sizeof name, "%s has one weight file, hashed", label);
    const weight_file *file = checkpoint_file(*out, 0);
    CHECK(name, checkpoint_num_files(*out) == 1 && file && file->size > 0 && file->xxh64 != 0 &&
                    checkpoint_file(*out, 1) == NULL,
          "%d files", checkpoint_num_files(*out));
    if (file) check_hashes(label, *out);
}

static const char *tensor_names[] = {
    "gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm.weight", "gpt_neox.final_layer_norm.bias",
    "embed_out.weight", "gpt_neox.layers.0.input_layernorm.weight", "gpt_neox.layers.0.input_layernorm.bias",
    "gpt_neox.layers.0.post_attention_layernorm.weight", "gpt_neox.layers.0.post_attention_layernorm.bias",
    "gpt_neox.layers.0.attention.query_key_value.weight", "gpt_neox.layers.0.attention.query_key_value.bias",
    "gpt_neox.layers.0.attention.dense.weight", "gpt_neox.layers.0.attention.dense.bias",
    "gpt_neox.layers.0.mlp.dense_h_to_4h.weight", "gpt_neox.layers.0.mlp.dense_h_to_4h.bias",
    "gpt_neox.layers.0.mlp.dense_4h_to_h.weight", "gpt_neox.layers.1.mlp.dense_4h_to_h.bias",
};

static void check_fixtures_agree(const checkpoint *a, const checkpoint *b) {
    int same = 1;
    const char *bad = "";
    for (size_t i = 0; i < sizeof tensor_names / sizeof tensor_names[0]; i++) {
        const tensor_view *x = checkpoint_tensor(a, tensor_names[i]), *y = checkpoint_tensor(b, tensor_names[i]);
        int ok = x && y && x->ndim == y->ndim && x->numel == y->numel;
        for (int k = 0; ok && k < x->ndim; k++) ok = x->shape[k] == y->shape[k];
        if (!ok) same = 0, bad = tensor_names[i];
    }
    char a_hex[17], b_hex[17], again[17];
    checkpoint_checksum(a_hex, a);
    checkpoint_checksum(b_hex, b);
    checkpoint_checksum(again, a);
    CHECK("fixtures agree on tensor names and shapes", same, "differs at %s", bad);
    CHECK("checkpoint checksums are stable and distinct", strcmp(a_hex, again) == 0 && strcmp(a_hex, b_hex) != 0 &&
                                                            strlen(a_hex) == 16,
          "%s %s %s", a_hex, again, b_hex);
}

static void check_conversions(void) {
    // F16 bit patterns and their exact float values, stored one byte off alignment.
    static const uint16_t half_bits[] = {0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00};
    const float half_values[] = {0.0f, -0.0f, 1.0f, -2.0f, 65504.0f, 0x1p-24f, 0x3ffp-24f, 0x1p-14f, INFINITY, -INFINITY, NAN};
    enum { N = sizeof half_bits / sizeof half_bits[0] };
    uint8_t storage[2 * N + 1];
    for (int i = 0; i < N; i++) memcpy(storage + 1 + 2 * i, &half_bits[i], 2);
    tensor_view t = {.name = "half", .dtype = TENSOR_F16, .ndim = 1, .shape = {N}, .numel = N, .data = storage + 1,
                     .nbytes = 2 * N};
    float out[N];
    memprof_error err = {0};
    int ok = tensor_read_f32(out, &t, &err) == 0;
    for (int i = 0; ok && i < N; i++)
        ok = isnan(half_values[i]) ? isnan(out[i]) : (out[i] == half_values[i] && signbit(out[i]) == signbit(half_values[i]));
    CHECK("F16 conversion is exact (zeros, subnormals, max, inf, nan), unaligned", ok, "%s", err.message);

    static const uint16_t bf16_bits[] = {0x3f80, 0xc040, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000};
    const float bf16_values[] = {1.0f, -3.0f, 0x1p-133f, INFINITY, -INFINITY, NAN, -0.0f};
    enum { M = sizeof bf16_bits / sizeof bf16_bits[0] };
    uint8_t bf[2 * M + 1];
    for (int i = 0; i < M; i++) memcpy(bf + 1 + 2 * i, &bf16_bits[i], 2);
    tensor_view b = {.name = "bf16", .dtype = TENSOR_BF16, .ndim = 1, .shape = {M}, .numel = M, .data = bf + 1,
                     .nbytes = 2 * M};
    ok = tensor_read_f32(out, &b, &err) == 0;
    for (int i = 0; ok && i < M; i++)
        ok = isnan(bf16_values[i]) ? isnan(out[i]) : (out[i] == bf16_values[i] && signbit(out[i]) == signbit(bf16_values[i]));
    CHECK("BF16 conversion is exact, unaligned", ok, "%s", err.message);

    tensor_view u = {.name = "mask", .dtype = TENSOR_U8, .ndim = 1, .shape = {4}, .numel = 4, .data = bf, .nbytes = 4};
    int status = tensor_read_f32(out, &u, &err);
    CHECK("tensor_read_f32 refuses U8", status != 0 && strstr(err.message, "mask") && strstr(err.message, "U8"),
          "status %d: %s", status, err.message);
}

int main(void) {
    checkpoint *f32 = NULL, *f16 = NULL;
    check_fixture("tiny-neox-f32-safetensors", F32_DIR, &f32);
    check_fixture("tiny-neox-f16-bin", F16_DIR, &f16);
    if (f32 && f16) check_fixtures_agree(f32, f16);
    check_conversions();
    checkpoint_close(f32);
    checkpoint_close(f16);
    return test_failures != 0;
}
