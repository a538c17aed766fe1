// suggest.c — "did you mean ...?": edit distance between a misspelt key and valid ones.
#include <stdlib.h>
#include <string.h>

#include "internal.h"

// Optimal string alignment: insertions, deletions, substitutions and swaps of adjacent
// characters each cost 1 ("modle" → "model" is one edit, the typo people make).
size_t config_edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    // Three rolling rows of the (n+1) x (m+1) table: two back, previous, current.
    size_t *rows = malloc(3 * (m + 1) * sizeof *rows);
    if (rows == NULL) return (size_t)-1;
    size_t *back2 = rows, *prev = rows + (m + 1), *cur = rows + 2 * (m + 1);
    for (size_t j = 0; j <= m; j++) prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && back2[j - 2] + 1 < best)
                best = back2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = back2; back2 = prev; prev = cur; cur = t;
    }
    size_t d = prev[m];
    free(rows);
    return d;
}

const char *config_nearest(const char *word, const char *const *candidates, size_t count) {
    const char *best = NULL;
    size_t best_distance = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        size_t d = config_edit_distance(word, candidates[i]);
        if (d < best_distance) { best = candidates[i]; best_distance = d; }
    }
    return best;
}
