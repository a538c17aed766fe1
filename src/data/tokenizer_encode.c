// tokenizer_encode.c — text → ids: added-token split, NFC, GPT-2 pre-tokeniser (Oniguruma),
// byte-level BPE by merge rank with a per-session cache of pre-token → ids.
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

// The cache maps a pre-token's bytes to its ids. It is cleared when full: the Pile's word
// distribution is heavy-tailed, so a bounded cache keeps nearly all of its benefit.
enum { CACHE_SLOTS = 1 << 16, CACHE_MAX_ENTRIES = CACHE_SLOTS / 2, CACHE_MAX_KEY = 64, CACHE_ARENA = 1 << 22 };

typedef struct cache_entry {
    uint64_t hash;  // 0 = empty
    uint32_t key_offset, key_length;
    uint32_t ids_offset, ids_count;  // into ids_arena
} cache_entry;

typedef struct bpe_heap_item {
    int32_t rank;
    int32_t position;
    int32_t result;
} bpe_heap_item;

struct tokenizer_session {
    const tokenizer *tok;
    OnigRegion *region;
    cache_entry *cache;
    int cache_entries;
    char *key_arena;
    uint32_t key_used;
    int32_t *ids_arena;
    uint32_t ids_used;
    // BPE scratch, grown to the longest pre-token seen.
    int32_t *symbol, *previous, *next;
    bpe_heap_item *heap;
    int32_t capacity;
};

int token_ids_push(token_ids *list, int32_t id, memprof_error *err) {
    if (list->count == list->capacity) {
        int64_t capacity = list->capacity ? list->capacity * 2 : 256;
        int32_t *grown = realloc(list->ids, (size_t)capacity * sizeof *grown);
        if (!grown) return error_set(err, MEMPROF_ERR_NOMEM, "tokenizer: out of memory");
        list->ids = grown;
        list->capacity = capacity;
    }
    list->ids[list->count++] = id;
    return MEMPROF_OK;
}

void token_ids_free(token_ids *list) {
    free(list->ids);
    *list = (token_ids){0};
}

size_t utf8_valid_prefix(const char *text, size_t length) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    while (i < length) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t min, code_point;
        if (c >= 0xC2 && c <= 0xDF) need = 1, min = 0x80, code_point = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) need = 2, min = 0x800, code_point = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) need = 3, min = 0x10000, code_point = c & 0x07;
        else return i;
        if (need >= length - i) return i;  // truncated sequence
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            code_point = code_point << 6 | (s[i + k] & 0x3F);
        }
        if (code_point < min || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return i;
        i += need + 1;
    }
    return i;
}

int tokenizer_session_create(tokenizer_session **out, const tokenizer *tok, memprof_error *err) {
    tokenizer_session *session = calloc(1, sizeof *session);
    if (!session) return error_set(err, MEMPROF_ERR_NOMEM, "tokenizer: out of memory");
    session->tok = tok;
    session->region = onig_region_new();
    session->cache = calloc(CACHE_SLOTS, sizeof *session->cache);
    session->key_arena = malloc(CACHE_ARENA);
    session->ids_arena = malloc(CACHE_ARENA * sizeof *session->ids_arena);
    if (!session->region || !session->cache || !session->key_arena || !session->ids_arena) {
        tokenizer_session_free(session);
        return error_set(err, MEMPROF_ERR_NOMEM, "tokenizer: out of memory");
    }
    *out = session;
    return MEMPROF_OK;
}

void tokenizer_session_free(tokenizer_session *session) {
    if (!session) return;
    if (session->region) onig_region_free(session->region, 1);
    free(session->cache);
    free(session->key_arena);
    free(session->ids_arena);
    free(session->symbol);
    free(session->previous);
    free(session->next);
    free(session->heap);
    free(session);
}

static uint64_t hash_bytes(const char *bytes, size_t length) {
    uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (size_t i = 0; i < length; i++) hash = (hash ^ (uint8_t)bytes[i]) * 1099511628211ull;
    return hash | 1u;
}

static void cache_clear(tokenizer_session *session) {
    memset(session->cache, 0, CACHE_SLOTS * sizeof *session->cache);
    session->cache_entries = 0;
    session->key_used = 0;
    session->ids_used = 0;
}

static int reserve_scratch(tokenizer_session *session, int32_t length, memprof_error *err) {
    if (length <= session->capacity) return MEMPROF_OK;
    int32_t capacity = session->capacity ? session->capacity : 64;
    while (capacity < length) capacity *= 2;
    int32_t *symbol = realloc(session->symbol, (size_t)capacity * sizeof *symbol);
    if (symbol) session->symbol = symbol;
    int32_t *previous = realloc(session->previous, (size_t)capacity * sizeof *previous);
    if (previous) session->previous = previous;
    int32_t *next = realloc(session->next, (size_t)capacity * sizeof *next);
    if (next) session->next = next;
    bpe_heap_item *heap = realloc(session->heap, (size_t)capacity * 2 * sizeof *heap);
    if (heap) session->heap = heap;
    if (!symbol || !previous || !next || !heap) return error_set(err, MEMPROF_ERR_NOMEM, "tokenizer: out of memory");
    session->capacity = capacity;
    return MEMPROF_OK;
}

static bool heap_less(bpe_heap_item a, bpe_heap_item b) {
    return a.rank < b.rank || (a.rank == b.rank && a.position < b.position);
}

static void heap_push(bpe_heap_item *heap, int *size, bpe_heap_item item) {
    int i = (*size)++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!heap_less(item, heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

static bpe_heap_item heap_pop(bpe_heap_item *heap, int *size) {
    bpe_heap_item top = heap[0], last = heap[--(*size)];
    int i = 0;
    for (;;) {
        int child = 2 * i + 1;
        if (child >= *size) break;
        if (child + 1 < *size && heap_less(heap[child + 1], heap[child])) child++;
        if (!heap_less(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*size > 0) heap[i] = last;
    return top;
}

static void push_pair(tokenizer_session *session, int *heap_size, int32_t left) {
    const merge_table *merges = &session->tok->merges;
    int32_t right = session->next[left];
    if (right < 0) return;
    int64_t slot = merge_find(merges, session->symbol[left], session->symbol[right]);
    if (slot < 0) return;
    heap_push(session->heap, heap_size,
              (bpe_heap_item){.rank = merges->ranks[slot], .position = left, .result = merges->results[slot]});
}

// BPE over one pre-token, as tokenizers' Word::merge_all: pop the lowest (rank, position)
// pair, skip it when stale, merge, queue the new neighbouring pairs. Appends the ids.
static int bpe_word(token_ids *out, tokenizer_session *session, const char *word, int32_t length, memprof_error *err) {
    int status = reserve_scratch(session, length, err);
    if (status) return status;
    int32_t count = 0;
    for (int32_t i = 0; i < length; i++) {
        int32_t id = session->tok->byte_to_id[(uint8_t)word[i]];
        if (id < 0) continue;  // bytes absent from the vocabulary (never in valid UTF-8), dropped as HF does
        session->symbol[count] = id;
        session->previous[count] = count - 1;
        session->next[count] = count + 1;
        count++;
    }
    if (count == 0) return MEMPROF_OK;
    session->next[count - 1] = -1;
    int heap_size = 0;
    for (int32_t i = 0; i + 1 < count; i++) push_pair(session, &heap_size, i);
    while (heap_size > 0) {
        bpe_heap_item top = heap_pop(session->heap, &heap_size);
        int32_t left = top.position;
        if (session->symbol[left] < 0) continue;  // merged into its left neighbour
        int32_t right = session->next[left];
        if (right < 0) continue;
        int64_t slot = merge_find(&session->tok->merges, session->symbol[left], session->symbol[right]);
        if (slot < 0 || session->tok->merges.results[slot] != top.result) continue;
        session->symbol[left] = top.result;
        session->symbol[right] = -1;
        session->next[left] = session->next[right];
        if (session->next[left] >= 0) session->previous[session->next[left]] = left;
        if (session->previous[left] >= 0) push_pair(session, &heap_size, session->previous[left]);
        push_pair(session, &heap_size, left);
    }
    for (int32_t i = 0; i >= 0; i = session->next[i]) {
        status = token_ids_push(out, session->symbol[i], err);
        if (status) return status;
    }
    return MEMPROF_OK;
}

static int encode_pretoken(token_ids *out, tokenizer_session *session, const char *word, size_t length,
                           memprof_error *err) {
    if (length > CACHE_MAX_KEY) return bpe_word(out, session, word, (int32_t)length, err);
    uint64_t hash = hash_bytes(word, length);
    uint64_t mask = CACHE_SLOTS - 1, slot = hash & mask;
    for (;; slot = (slot + 1) & mask) {
        cache_entry *entry = &session->cache[slot];
        if (entry->hash == 0) break;
        if (entry->hash == hash && entry->key_length == length &&
            memcmp(session->key_arena + entry->key_offset, word, length) == 0) {
            for (uint32_t i = 0; i < entry->ids_count; i++) {
                int status = token_ids_push(out, session->ids_arena[entry->ids_offset + i], err);
                if (status) return status;
            }
            return MEMPROF_OK;
        }
    }
    int64_t start = out->count;
    int status = bpe_word(out, session, word, (int32_t)length, err);
    if (status) return status;
    uint32_t produced = (uint32_t)(out->count - start);
    if (session->cache_entries >= CACHE_MAX_ENTRIES || session->key_used + length > CACHE_ARENA ||
        session->ids_used + produced > CACHE_ARENA) {
        cache_clear(session);
        for (slot = hash & mask; session->cache[slot].hash != 0; slot = (slot + 1) & mask) {}
    }
    cache_entry *entry = &session->cache[slot];
    entry->hash = hash;
    entry->key_offset = session->key_used;
    entry->key_length = (uint32_t)length;
    entry->ids_offset = session->ids_used;
    entry->ids_count = produced;
    memcpy(session->key_arena + session->key_used, word, length);
    memcpy(session->ids_arena + session->ids_used, out->ids + start, produced * sizeof *out->ids);
    session->key_used += (uint32_t)length;
    session->ids_used += produced;
    session->cache_entries++;
    return MEMPROF_OK;
}

// Splits a piece with the GPT-2 pattern; matches and any unmatched gaps are pre-tokens.
static int pretokenize(token_ids *out, tokenizer_session *session, const char *piece, size_t length,
                       memprof_error *err) {
    const OnigUChar *start = (const OnigUChar *)piece, *end = start + length;
    size_t cursor = 0;
    while (cursor < length) {
        int found = onig_search(session->tok->pretokenizer, start, end, start + cursor, end, session->region,
                                ONIG_OPTION_NONE);
        if (found < 0) {
            if (found != ONIG_MISMATCH) return error_set(err, MEMPROF_ERR, "tokenizer: regex search failed (%d)", found);
            return encode_pretoken(out, session, piece + cursor, length - cursor, err);
        }
        size_t match_start = (size_t)session->region->beg[0], match_end = (size_t)session->region->end[0];
        int status;
        if (match_start > cursor) {
            status = encode_pretoken(out, session, piece + cursor, match_start - cursor, err);
            if (status) return status;
        }
        if (match_end == match_start) {  // an empty match: step one character, as find_iter does
            cursor = match_start + 1;
            while (cursor < length && ((uint8_t)piece[cursor] & 0xC0) == 0x80) cursor++;
            continue;
        }
        status = encode_pretoken(out, session, piece + match_start, match_end - match_start, err);
        if (status) return status;
        cursor = match_end;
    }
    return MEMPROF_OK;
}

typedef int (*piece_encoder)(token_ids *out, tokenizer_session *session, const char *text, size_t length,
                             memprof_error *err);

// Splits text on the added tokens of `matcher` (leftmost match first): the pieces between
// them go to encode_piece, each match becomes its token id.
static int split_on_added_tokens(token_ids *out, tokenizer_session *session, const char *text, size_t length,
                                 const added_token_matcher *matcher, piece_encoder encode_piece, memprof_error *err) {
    size_t piece_start = 0;
    for (size_t i = 0; i < length;) {
        const added_token *match = matcher->count ? added_token_match(matcher, text + i, length - i) : NULL;
        if (!match) {
            i++;
            continue;
        }
        int status = encode_piece(out, session, text + piece_start, i - piece_start, err);
        if (!status) status = token_ids_push(out, match->id, err);
        if (status) return status;
        i += match->length;
        piece_start = i;
    }
    return encode_piece(out, session, text + piece_start, length - piece_start, err);
}

// Step 3 and on: split a normalised piece on the normalized added tokens.
static int encode_normalized(token_ids *out, tokenizer_session *session, const char *text, size_t length,
                             memprof_error *err) {
    return split_on_added_tokens(out, session, text, length, &session->tok->normalized_matcher, pretokenize, err);
}

// Step 2: NFC. Text whose bytes are all below 0xCC holds only code points below U+0300,
// which are NFC-stable and never compose with a neighbour, so it is skipped.
static int encode_raw_piece(token_ids *out, tokenizer_session *session, const char *text, size_t length,
                            memprof_error *err) {
    bool maybe_unnormalized = false;
    for (size_t i = 0; i < length; i++)
        if ((uint8_t)text[i] >= 0xCC) {
            maybe_unnormalized = true;
            break;
        }
    if (!maybe_unnormalized) return encode_normalized(out, session, text, length, err);
    char *normal;
    size_t normal_length;
    int status = nfc_normalize(&normal, &normal_length, text, length, err);
    if (status) return status;
    status = encode_normalized(out, session, normal, normal_length, err);
    free(normal);
    return status;
}

int tokenizer_encode(token_ids *out, tokenizer_session *session, const char *text, size_t length,
                     memprof_error *err) {
    size_t valid = utf8_valid_prefix(text, length);
    if (valid != length) return error_set(err, MEMPROF_ERR, "invalid UTF-8 at byte %zu", valid);
    return split_on_added_tokens(out, session, text, length, &session->tok->raw_matcher, encode_raw_piece, err);
}
