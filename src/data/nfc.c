// nfc.c — NFC as HF tokenizers computes it: Unicode 9.0 normalisation tables.
//
// utf8proc carries newer tables. A character assigned after 9.0 that newer tables would
// reorder, decompose or compose is unknown to HF: a starter (class 0) that combines with
// nothing. Cutting the text at such characters and normalising the pieces between them
// with utf8proc gives exactly that, because a starter that composes with nothing is a
// boundary of both reordering and composition.
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer_internal.h"
#include "unicode9_ranges.h"

static bool assigned_by_unicode9(uint32_t code_point) {
    size_t low = 0, high = sizeof unicode9_ranges / sizeof unicode9_ranges[0];
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (code_point < unicode9_ranges[mid][0]) high = mid;
        else if (code_point > unicode9_ranges[mid][1]) low = mid + 1;
        else return true;
    }
    return false;
}

// True for a character that utf8proc's tables would treat differently from Unicode 9.0's.
static bool newer_than_unicode9(utf8proc_int32_t code_point) {
    const utf8proc_property_t *property = utf8proc_get_property(code_point);
    if (property->combining_class == 0 && property->decomp_seqindex == UINT16_MAX && property->comb_index == UINT16_MAX)
        return false;  // inert for normalisation whatever its age
    return !assigned_by_unicode9((uint32_t)code_point);
}

static int append(char **buffer, size_t *used, size_t *capacity, const void *bytes, size_t length) {
    if (*used + length + 1 > *capacity) {
        size_t grown_capacity = (*used + length + 1) * 2;
        char *grown = realloc(*buffer, grown_capacity);
        if (!grown) return -1;
        *buffer = grown;
        *capacity = grown_capacity;
    }
    memcpy(*buffer + *used, bytes, length);
    *used += length;
    return 0;
}

static int normalize_segment(char **buffer, size_t *used, size_t *capacity, const char *text, size_t length,
                             memprof_error *err) {
    if (length == 0) return MEMPROF_OK;
    utf8proc_uint8_t *normal = NULL;
    utf8proc_ssize_t got = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)length, &normal,
                                        UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (got < 0) return error_set(err, MEMPROF_ERR, "NFC failed: %s", utf8proc_errmsg(got));
    int failed = append(buffer, used, capacity, normal, (size_t)got);
    free(normal);
    return failed ? error_set(err, MEMPROF_ERR_NOMEM, "NFC: out of memory") : MEMPROF_OK;
}

int nfc_normalize(char **out_text, size_t *out_length, const char *text, size_t length, memprof_error *err) {
    char *buffer = NULL;
    size_t used = 0, capacity = 0, segment_start = 0, position = 0;
    int status = MEMPROF_OK;
    while (position < length && status == MEMPROF_OK) {
        utf8proc_int32_t code_point;
        utf8proc_ssize_t step = utf8proc_iterate((const utf8proc_uint8_t *)text + position,
                                                 (utf8proc_ssize_t)(length - position), &code_point);
        if (step <= 0) {
            status = error_set(err, MEMPROF_ERR, "NFC: invalid UTF-8 at byte %zu", position);
            break;
        }
        if ((uint8_t)text[position] >= 0xCC && newer_than_unicode9(code_point)) {
            status = normalize_segment(&buffer, &used, &capacity, text + segment_start, position - segment_start, err);
            if (!status && append(&buffer, &used, &capacity, text + position, (size_t)step))
                status = error_set(err, MEMPROF_ERR_NOMEM, "NFC: out of memory");
            segment_start = position + (size_t)step;
        }
        position += (size_t)step;
    }
    if (!status) status = normalize_segment(&buffer, &used, &capacity, text + segment_start, length - segment_start, err);
    if (!status && !buffer && append(&buffer, &used, &capacity, "", 0))
        status = error_set(err, MEMPROF_ERR_NOMEM, "NFC: out of memory");
    if (status) {
        free(buffer);
        return status;
    }
    buffer[used] = '\0';
    *out_text = buffer;
    *out_length = used;
    return MEMPROF_OK;
}
