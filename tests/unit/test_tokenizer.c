// test_tokenizer.c — the tokenizer against HF tokenizers' own output: every line of
// tests/fixtures/tokenizer/golden.jsonl (shared fixture, tokenizers 0.23.2) and
// golden_extra.jsonl (scripts/make_tokenizer_golden.py), plus decode(encode(x)) == NFC(x) with
// HF's own normaliser output as NFC(x).
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/tokenizer.h"
#include "test.h"

static const char *tokenizer_path = "data/gpt-neox-20b-tokenizer.json";

static void check_golden_file(tokenizer *tok, tokenizer_session *session, const char *path, int roundtrip) {
    FILE *file = fopen(path, "r");
    if (!file) {
        CHECK(path, 0, "cannot open");
        return;
    }
    char *line = NULL;
    size_t capacity = 0;
    int lines = 0, matched = 0, roundtrips = 0, roundtrip_ok = 0;
    char first_mismatch[256] = "";
    while (getline(&line, &capacity, file) > 0) {
        json_error_t json_error;
        json_t *record = json_loads(line, JSON_ALLOW_NUL, &json_error);
        if (!record) continue;
        lines++;
        json_t *text = json_object_get(record, "text"), *ids = json_object_get(record, "ids");
        token_ids got = {0};
        memprof_error err = {0};
        int status = tokenizer_encode(&got, session, json_string_value(text), json_string_length(text), &err);
        int same = status == 0 && (size_t)got.count == json_array_size(ids);
        for (int64_t i = 0; same && i < got.count; i++)
            same = got.ids[i] == json_integer_value(json_array_get(ids, (size_t)i));
        if (same) matched++;
        else if (!first_mismatch[0]) snprintf(first_mismatch, sizeof first_mismatch, "line %d: %.120s", lines, line);
        json_t *nfc = json_object_get(record, "nfc");  // HF's normaliser output, when recorded
        if (roundtrip && status == 0 && json_is_string(nfc)) {
            char *decoded;
            size_t decoded_length;
            roundtrips++;
            if (tokenizer_decode(&decoded, &decoded_length, tok, got.ids, got.count, &err) == 0) {
                if (json_string_length(nfc) == decoded_length && memcmp(decoded, json_string_value(nfc), decoded_length) == 0)
                    roundtrip_ok++;
                free(decoded);
            }
        }
        token_ids_free(&got);
        json_decref(record);
    }
    free(line);
    fclose(file);
    char name[512];
    snprintf(name, sizeof name, "golden %s", path);
    CHECK(name, lines > 0 && matched == lines, "%d of %d lines match; first mismatch %s", matched, lines, first_mismatch);
    printf("# %s: %d/%d match\n", path, matched, lines);
    if (roundtrip) {
        snprintf(name, sizeof name, "decode(encode(x)) == NFC(x) %s", path);
        CHECK(name, roundtrips > 0 && roundtrip_ok == roundtrips, "%d of %d", roundtrip_ok, roundtrips);
    }
}

static void check_anchors(tokenizer *tok, tokenizer_session *session) {
    // the tokenizer file's anchors, and a 30-space run.
    struct { const char *text; int count; int32_t ids[4]; } cases[] = {
        {"Hello", 1, {12092}},
        {" world", 1, {1533}},
        {"\n\n", 1, {535}},
        {"<|endoftext|>a<|padding|>", 3, {0, 66, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        token_ids got = {0};
        memprof_error err = {0};
        int status = tokenizer_encode(&got, session, cases[c].text, strlen(cases[c].text), &err);
        int same = status == 0 && got.count == cases[c].count;
        for (int i = 0; same && i < cases[c].count; i++) same = got.ids[i] == cases[c].ids[i];
        char name[128];
        snprintf(name, sizeof name, "anchor %zu", c);
        CHECK(name, same, "wrong ids for '%s' (status %d, %lld ids)", cases[c].text, status, (long long)got.count);
        token_ids_free(&got);
    }
    CHECK("vocab size 50277", tokenizer_vocab_size(tok) == 50277, "got %d", tokenizer_vocab_size(tok));
    token_ids got = {0};
    memprof_error err = {0};
    const char bad[] = "ok\xC3\x28";
    int status = tokenizer_encode(&got, session, bad, sizeof bad - 1, &err);
    CHECK("invalid UTF-8 rejected", status != 0 && strstr(err.message, "byte 2"), "status %d '%s'", status, err.message);
    int32_t out_of_range = 50277;
    char *text;
    size_t length;
    CHECK("decode rejects unknown id", tokenizer_decode(&text, &length, tok, &out_of_range, 1, &err) != 0, "accepted");
    token_ids_free(&got);
}

int main(void) {
    tokenizer *tok = NULL;
    memprof_error err = {0};
    if (tokenizer_load(&tok, tokenizer_path, &err) != 0) {
        CHECK("load tokenizer", 0, "%s", err.message);
        return 1;
    }
    CHECK("tokenizer sha256", strcmp(tokenizer_sha256(tok), "56ac4821e129d2c520fdaba60abd920fa852ada51b45c0dd52bbb6bd8c985ade") == 0,
          "got %s", tokenizer_sha256(tok));
    tokenizer_session *session;
    tokenizer_session_create(&session, tok, &err);
    check_anchors(tok, session);
    check_golden_file(tok, session, "tests/fixtures/tokenizer/golden.jsonl", 0);
    FILE *extra = fopen("tests/fixtures/tokenizer/golden_extra.jsonl", "r");
    if (extra) {
        fclose(extra);
        check_golden_file(tok, session, "tests/fixtures/tokenizer/golden_extra.jsonl", 1);
    } else {
        CHECK("golden_extra.jsonl present", 0, "missing");
    }
    tokenizer_session_free(session);
    tokenizer_free(tok);
    return test_failures;
}
