// sampler.c — the paper's draw of training indices from the preshuffled Pile, and explicit
// index lists (one integer per line).
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/sampler.h"

pile_sampler_config pile_sampler_defaults(void) {
    return (pile_sampler_config){.seed = 1994, .cohorts = 143, .batches_per_cohort = 1000, .batches_drawn = 10,
                                 .batch_size = 1024, .sequences_drawn = 10};
}

int64_t pile_sampler_count(const pile_sampler_config *config) {
    return config->cohorts * config->batches_drawn * config->sequences_drawn;
}

int pile_sampler_draw(int64_t *out_indices, const pile_sampler_config *config, memprof_error *err) {
    if (config->cohorts < 0 || config->batches_drawn < 0 || config->sequences_drawn < 0 ||
        config->batches_drawn > config->batches_per_cohort || config->sequences_drawn > config->batch_size)
        return error_set(err, MEMPROF_ERR, "sampler: inconsistent sizes (cohorts %lld, %lld of %lld batches, %lld of %lld sequences)",
                         (long long)config->cohorts, (long long)config->batches_drawn,
                         (long long)config->batches_per_cohort, (long long)config->sequences_drawn,
                         (long long)config->batch_size);
    legacy_random rng;
    legacy_random_seed(&rng, config->seed);
    int64_t *batches = malloc((size_t)(config->batches_drawn + 1) * sizeof *batches);
    int64_t *sequences = malloc((size_t)(config->sequences_drawn + 1) * sizeof *sequences);
    int status = MEMPROF_OK;
    if (!batches || !sequences) {
        status = error_set(err, MEMPROF_ERR_NOMEM, "sampler: out of memory");
        goto done;
    }
    int64_t count = 0;
    for (int64_t cohort = 0; cohort < config->cohorts; cohort++) {
        status = legacy_random_choice(batches, &rng, config->batches_per_cohort, config->batches_drawn, err);
        if (status) goto done;
        for (int64_t b = 0; b < config->batches_drawn; b++) {
            int64_t batch = batches[b] + config->batches_per_cohort * cohort;
            status = legacy_random_choice(sequences, &rng, config->batch_size, config->sequences_drawn, err);
            if (status) goto done;
            for (int64_t s = 0; s < config->sequences_drawn; s++)
                out_indices[count++] = sequences[s] + config->batch_size * batch;
            // The paper reseeds after every batch from the current stream.
            legacy_random_seed(&rng, (uint32_t)legacy_random_randint(&rng, 1000000));
        }
    }
done:
    free(batches);
    free(sequences);
    return status;
}

int index_list_read(int64_t **out_indices, int64_t *out_count, const char *path, memprof_error *err) {
    *out_indices = NULL;
    *out_count = 0;
    FILE *file = fopen(path, "r");
    if (!file) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", path, strerror(errno));
    int64_t capacity = 1024, count = 0;
    int64_t *indices = malloc((size_t)capacity * sizeof *indices);
    char line[256];
    int64_t line_number = 0;
    int status = MEMPROF_OK;
    if (!indices) {
        status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    while (fgets(line, sizeof line, file)) {
        line_number++;
        size_t length = strlen(line);
        if (length == sizeof line - 1 && line[length - 1] != '\n') {
            status = error_set(err, MEMPROF_ERR, "%s:%lld: line too long", path, (long long)line_number);
            goto done;
        }
        char *cursor = line;
        while (*cursor == ' ' || *cursor == '\t') cursor++;
        if (*cursor == '#' || *cursor == '\n' || *cursor == '\r' || *cursor == '\0') continue;
        errno = 0;
        char *end;
        long long value = strtoll(cursor, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
        if (end == cursor || *end != '\0' || errno != 0 || value < 0) {
            status = error_set(err, MEMPROF_ERR, "%s:%lld: expected a non-negative integer", path,
                               (long long)line_number);
            goto done;
        }
        if (count == capacity) {
            capacity *= 2;
            int64_t *grown = realloc(indices, (size_t)capacity * sizeof *indices);
            if (!grown) {
                status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            indices = grown;
        }
        indices[count++] = value;
    }
    if (ferror(file)) status = error_set(err, MEMPROF_ERR, "%s: read error", path);
done:
    fclose(file);
    if (status) {
        free(indices);
        return status;
    }
    *out_indices = indices;
    *out_count = count;
    return MEMPROF_OK;
}
