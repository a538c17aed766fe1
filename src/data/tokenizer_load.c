// tokenizer_load.c — parses a HF tokenizer.json (jansson) into the encoder's tables:
// byte → id, merge table, added-token matchers, per-id bytes for decoding, and the
// compiled GPT-2 pre-tokeniser pattern.
//
// tokenizer.json fields read: normalizer.type ("NFC"), pre_tokenizer (ByteLevel,
// add_prefix_space false, use_regex true), model (BPE: vocab {token: id}, merges
// ["a b", …] or [["a", "b"], …]), added_tokens [{id, content, normalized, lstrip, rstrip,
// single_word, special}].
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "memprof/sha256.h"
#include "tokenizer_internal.h"

// The pattern of tokenizers/src/pre_tokenizers/byte_level.rs.
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

uint32_t byte_level_char(uint8_t byte) {
    // Printable Latin-1 bytes stand for themselves; the other 68 map to U+0100… in order.
    if ((byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE) return byte;
    uint32_t shifted = 0;
    for (int b = 0; b < byte; b++)
        if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) shifted++;
    return 256 + shifted;
}

static size_t utf8_encode(char out[4], uint32_t code_point) {
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)code_point, (utf8proc_uint8_t *)out);
}

// The bytes a model-vocabulary token stands for: each character maps back to its byte.
// Returns −1 when a character is not a byte-level character.
static int token_to_bytes(char *out, uint32_t *out_length, const char *token, const int16_t char_to_byte[512]) {
    const utf8proc_uint8_t *cursor = (const utf8proc_uint8_t *)token;
    utf8proc_ssize_t remaining = (utf8proc_ssize_t)strlen(token);
    uint32_t length = 0;
    while (remaining > 0) {
        utf8proc_int32_t code_point;
        utf8proc_ssize_t used = utf8proc_iterate(cursor, remaining, &code_point);
        if (used <= 0 || code_point < 0 || code_point >= 512 || char_to_byte[code_point] < 0) return -1;
        out[length++] = (char)char_to_byte[code_point];
        cursor += used;
        remaining -= used;
    }
    *out_length = length;
    return 0;
}

static int build_matcher(added_token_matcher *out, const added_token *tokens, int count, bool normalized,
                         memprof_error *err) {
    int selected = 0;
    for (int i = 0; i < count; i++)
        if (tokens[i].normalized == normalized && tokens[i].length > 0) selected++;
    out->candidates = calloc((size_t)selected + 1, sizeof *out->candidates);
    if (!out->candidates) return error_set(err, MEMPROF_ERR_NOMEM, "tokenizer: out of memory");
    out->count = 0;
    for (int i = 0; i < count; i++)
        if (tokens[i].normalized == normalized && tokens[i].length > 0) out->candidates[out->count++] = &tokens[i];
    // Insertion sort by (first byte, length descending); a few dozen entries at most.
    for (int i = 1; i < out->count; i++) {
        const added_token *moving = out->candidates[i];
        int j = i - 1;
        for (; j >= 0; j--) {
            const added_token *other = out->candidates[j];
            uint8_t a = (uint8_t)other->content[0], b = (uint8_t)moving->content[0];
            if (a < b || (a == b && other->length >= moving->length)) break;
            out->candidates[j + 1] = other;
        }
        out->candidates[j + 1] = moving;
    }
    int next = 0;
    for (int b = 0; b <= 256; b++) {
        while (next < out->count && (uint8_t)out->candidates[next]->content[0] < b) next++;
        out->first[b] = next;
    }
    return MEMPROF_OK;
}

const added_token *added_token_match(const added_token_matcher *matcher, const char *text, size_t length) {
    uint8_t first = (uint8_t)text[0];
    for (int i = matcher->first[first]; i < matcher->first[first + 1]; i++) {
        const added_token *candidate = matcher->candidates[i];
        if (candidate->length <= length && memcmp(candidate->content, text, candidate->length) == 0)
            return candidate;
    }
    return NULL;
}

static int insert_merge(merge_table *table, int32_t left, int32_t right, int32_t rank, int32_t result) {
    uint64_t key = merge_key(left, right);
    for (uint64_t slot = merge_slot(key, table->mask);; slot = (slot + 1) & table->mask) {
        if (table->keys[slot] == key) return 0;  // a repeated merge keeps its first (lowest) rank
        if (table->keys[slot] == 0) {
            table->keys[slot] = key;
            table->ranks[slot] = rank;
            table->results[slot] = result;
            return 0;
        }
    }
}

static int lookup_id(int32_t *out, json_t *vocab, const char *token, int rank, const char *path,
                     memprof_error *err) {
    json_t *value = json_object_get(vocab, token);
    if (!json_is_integer(value))
        return error_set(err, MEMPROF_ERR, "%s: merge %d: token '%s' is not in the vocabulary", path, rank, token);
    *out = (int32_t)json_integer_value(value);
    return MEMPROF_OK;
}

static int load_merges(tokenizer *tok, json_t *vocab, json_t *merges, const char *path, memprof_error *err) {
    size_t count = json_array_size(merges);
    uint64_t capacity = 1024;
    while (capacity < 2 * count + 2) capacity *= 2;
    tok->merges.mask = capacity - 1;
    tok->merges.keys = calloc(capacity, sizeof *tok->merges.keys);
    tok->merges.ranks = calloc(capacity, sizeof *tok->merges.ranks);
    tok->merges.results = calloc(capacity, sizeof *tok->merges.results);
    if (!tok->merges.keys || !tok->merges.ranks || !tok->merges.results)
        return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory for merges", path);
    char *joined = NULL;
    size_t joined_capacity = 0;
    int status = MEMPROF_OK;
    for (size_t rank = 0; rank < count && status == MEMPROF_OK; rank++) {
        json_t *merge = json_array_get(merges, rank);
        const char *left, *right;
        char *split = NULL;
        if (json_is_string(merge)) {
            const char *text = json_string_value(merge);
            const char *space = strchr(text, ' ');
            if (!space || strchr(space + 1, ' ')) {
                status = error_set(err, MEMPROF_ERR, "%s: merge %zu: expected \"left right\"", path, rank);
                break;
            }
            split = strdup(text);
            if (!split) {
                status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            split[space - text] = '\0';
            left = split;
            right = split + (space - text) + 1;
        } else if (json_is_array(merge) && json_array_size(merge) == 2 && json_is_string(json_array_get(merge, 0)) &&
                   json_is_string(json_array_get(merge, 1))) {
            left = json_string_value(json_array_get(merge, 0));
            right = json_string_value(json_array_get(merge, 1));
        } else {
            status = error_set(err, MEMPROF_ERR, "%s: merge %zu: expected a string or a pair", path, rank);
            break;
        }
        size_t need = strlen(left) + strlen(right) + 1;
        if (need > joined_capacity) {
            free(joined);
            joined_capacity = need * 2;
            joined = malloc(joined_capacity);
            if (!joined) {
                free(split);
                status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
        }
        snprintf(joined, joined_capacity, "%s%s", left, right);
        int32_t left_id = 0, right_id = 0, result_id = 0;
        status = lookup_id(&left_id, vocab, left, (int)rank, path, err);
        if (!status) status = lookup_id(&right_id, vocab, right, (int)rank, path, err);
        if (!status) status = lookup_id(&result_id, vocab, joined, (int)rank, path, err);
        if (!status) insert_merge(&tok->merges, left_id, right_id, (int32_t)rank, result_id);
        free(split);
    }
    free(joined);
    return status;
}

static bool json_flag(json_t *object, const char *key, bool fallback) {
    json_t *value = json_object_get(object, key);
    return json_is_boolean(value) ? json_is_true(value) : fallback;
}

static int check_pipeline(json_t *root, const char *path, memprof_error *err) {
    json_t *normalizer = json_object_get(root, "normalizer");
    const char *normalizer_type = json_string_value(json_object_get(normalizer, "type"));
    if (!normalizer_type || strcmp(normalizer_type, "NFC") != 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: normalizer must be NFC", path);
    json_t *pre = json_object_get(root, "pre_tokenizer");
    const char *pre_type = json_string_value(json_object_get(pre, "type"));
    if (!pre_type || strcmp(pre_type, "ByteLevel") != 0 || json_flag(pre, "add_prefix_space", false) ||
        !json_flag(pre, "use_regex", true))
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: pre_tokenizer must be ByteLevel without prefix space, with the regex", path);
    json_t *model = json_object_get(root, "model");
    const char *model_type = json_string_value(json_object_get(model, "type"));
    if (!model_type || strcmp(model_type, "BPE") != 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: model must be BPE", path);
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout))
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: BPE dropout is not supported", path);
    const char *keys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_t *value = json_object_get(model, keys[i]);
        if (value && !json_is_null(value) && !(json_is_string(value) && json_string_length(value) == 0))
            return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: model.%s is not supported", path, keys[i]);
    }
    return MEMPROF_OK;
}

static int load_added_tokens(tokenizer *tok, json_t *added, const char *path, memprof_error *err) {
    size_t count = json_array_size(added);
    tok->added = calloc(count + 1, sizeof *tok->added);
    if (!tok->added) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < count; i++) {
        json_t *entry = json_array_get(added, i);
        json_t *id = json_object_get(entry, "id");
        json_t *content = json_object_get(entry, "content");
        if (!json_is_integer(id) || !json_is_string(content) || json_integer_value(id) < 0 ||
            json_integer_value(id) > 10000000)
            return error_set(err, MEMPROF_ERR, "%s: added_tokens[%zu]: needs an integer id and string content", path, i);
        if (json_flag(entry, "lstrip", false) || json_flag(entry, "rstrip", false) ||
            json_flag(entry, "single_word", false))
            return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: added_tokens[%zu]: lstrip/rstrip/single_word not supported",
                             path, i);
        bool special = json_flag(entry, "special", false);
        added_token *token = &tok->added[tok->added_count++];
        token->id = (int32_t)json_integer_value(id);
        token->normalized = json_flag(entry, "normalized", !special);
        const char *text = json_string_value(content);
        size_t length = json_string_length(content);
        if (token->normalized) {
            if (nfc_normalize(&token->content, &token->length, text, length, err) != 0)
                return error_prefix(err, "%s: added_tokens[%zu]", path, i);
        } else {
            token->content = malloc(length + 1);
            if (!token->content) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
            memcpy(token->content, text, length + 1);
            token->length = length;
        }
        if (token->id + 1 > tok->vocab_size) tok->vocab_size = token->id + 1;
    }
    int status = build_matcher(&tok->raw_matcher, tok->added, tok->added_count, false, err);
    if (!status) status = build_matcher(&tok->normalized_matcher, tok->added, tok->added_count, true, err);
    return status;
}

static int fill_decoding(tokenizer *tok, json_t *vocab, const char *path, memprof_error *err) {
    int16_t char_to_byte[512];
    for (int c = 0; c < 512; c++) char_to_byte[c] = -1;
    for (int b = 0; b < 256; b++) char_to_byte[byte_level_char((uint8_t)b)] = (int16_t)b;
    tok->id_bytes = calloc((size_t)tok->vocab_size, sizeof *tok->id_bytes);
    tok->id_bytes_length = calloc((size_t)tok->vocab_size, sizeof *tok->id_bytes_length);
    if (!tok->id_bytes || !tok->id_bytes_length) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
    const char *token;
    json_t *value;
    json_object_foreach(vocab, token, value) {
        int32_t id = (int32_t)json_integer_value(value);
        char *bytes = malloc(strlen(token) + 1);
        if (!bytes) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
        uint32_t length;
        if (token_to_bytes(bytes, &length, token, char_to_byte) != 0) {
            // Not byte-level text (e.g. the specials stored in the vocab): decode literally.
            length = (uint32_t)strlen(token);
            memcpy(bytes, token, length);
        }
        free(tok->id_bytes[id]);
        tok->id_bytes[id] = bytes;
        tok->id_bytes_length[id] = length;
    }
    for (int i = 0; i < tok->added_count; i++) {
        const added_token *added = &tok->added[i];
        free(tok->id_bytes[added->id]);
        tok->id_bytes[added->id] = strdup(added->content);
        if (!tok->id_bytes[added->id]) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
        tok->id_bytes_length[added->id] = (uint32_t)added->length;
    }
    return MEMPROF_OK;
}

static int compile_pattern(tokenizer *tok, memprof_error *err) {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
    OnigErrorInfo info;
    int r = onig_new(&tok->pretokenizer, (const OnigUChar *)gpt2_pattern,
                     (const OnigUChar *)gpt2_pattern + strlen(gpt2_pattern), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                     ONIG_SYNTAX_RUBY, &info);
    if (r != ONIG_NORMAL) {
        OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(message, r, &info);
        return error_set(err, MEMPROF_ERR, "tokenizer: cannot compile the pre-tokenizer pattern: %s", message);
    }
    return MEMPROF_OK;
}

int tokenizer_load(tokenizer **out, const char *path, memprof_error *err) {
    *out = NULL;
    tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return error_set(err, MEMPROF_ERR_NOMEM, "tokenizer: out of memory");
    int status = sha256_file_hex(tok->sha256, path, err);
    json_error_t json_error;
    json_t *root = NULL;
    if (!status) {
        root = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
        if (!root)
            status = error_set(err, MEMPROF_ERR, "%s:%d:%d: %s", path, json_error.line, json_error.column,
                               json_error.text);
    }
    if (!status) status = check_pipeline(root, path, err);
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab");
    json_t *merges = json_object_get(model, "merges");
    if (!status && (!json_is_object(vocab) || !json_is_array(merges)))
        status = error_set(err, MEMPROF_ERR, "%s: model.vocab must be an object and model.merges an array", path);
    if (!status) {
        const char *token;
        json_t *value;
        json_object_foreach(vocab, token, value) {
            if (!json_is_integer(value) || json_integer_value(value) < 0 || json_integer_value(value) > 10000000) {
                status = error_set(err, MEMPROF_ERR, "%s: model.vocab['%s']: id out of range", path, token);
                break;
            }
            if (json_integer_value(value) + 1 > tok->vocab_size) tok->vocab_size = (int)json_integer_value(value) + 1;
        }
    }
    if (!status) {
        json_t *added = json_object_get(root, "added_tokens");
        status = load_added_tokens(tok, json_is_array(added) ? added : NULL, path, err);
    }
    if (!status) {
        for (int b = 0; b < 256; b++) {
            char text[5] = {0};
            utf8_encode(text, byte_level_char((uint8_t)b));
            json_t *value = json_object_get(vocab, text);
            tok->byte_to_id[b] = json_is_integer(value) ? (int32_t)json_integer_value(value) : -1;
        }
        status = load_merges(tok, vocab, merges, path, err);
    }
    if (!status) status = fill_decoding(tok, vocab, path, err);
    if (!status) status = compile_pattern(tok, err);
    json_decref(root);
    if (status) {
        tokenizer_free(tok);
        return status;
    }
    *out = tok;
    return MEMPROF_OK;
}

void tokenizer_free(tokenizer *tok) {
    if (!tok) return;
    free(tok->merges.keys);
    free(tok->merges.ranks);
    free(tok->merges.results);
    for (int i = 0; i < tok->added_count; i++) free(tok->added[i].content);
    free(tok->added);
    free(tok->raw_matcher.candidates);
    free(tok->normalized_matcher.candidates);
    if (tok->id_bytes)
        for (int i = 0; i < tok->vocab_size; i++) free(tok->id_bytes[i]);
    free(tok->id_bytes);
    free(tok->id_bytes_length);
    if (tok->pretokenizer) onig_free(tok->pretokenizer);
    free(tok);
}

int tokenizer_vocab_size(const tokenizer *tok) { return tok->vocab_size; }
const char *tokenizer_sha256(const tokenizer *tok) { return tok->sha256; }
