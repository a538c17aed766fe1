// cmd_status.c — `memprof status STATS.h5 [--journal FILE] [--records]`: a sweep's progress,
// failures and what rerunning it will do, from the journal (the source of truth; /done in
// the file is only a hint and is reported as such).
#include <getopt.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "memprof/journal.h"
#include "sweep/history.h"
#include "sweep/token_file.h"

static const char *type_name(int type) {
    static const char *names[] = {"?", "HEADER", "RUN", "DISPATCH", "DONE", "FAILED", "END"};
    return type >= 1 && type <= 6 ? names[type] : "?";
}

static void print_records(const journal_contents *jc) {
    for (size_t k = 0; k < jc->count; k++) {
        const journal_record *r = &jc->records[k];
        printf("%s", type_name(r->type));
        switch (r->type) {
        case JOURNAL_RUN: printf(" ranks=%d time=%lld", r->rank, (long long)r->time); break;
        case JOURNAL_DISPATCH: printf(" %d %lld %lld rank=%d", r->checkpoint, (long long)r->lo, (long long)r->hi, r->rank); break;
        case JOURNAL_DONE:
            printf(" %d %lld %lld rank=%d xxh64=%016llx seconds=%.3f", r->checkpoint, (long long)r->lo, (long long)r->hi, r->rank,
                   (unsigned long long)r->checksum, r->seconds);
            break;
        case JOURNAL_FAILED:
            printf(" %d %lld %lld rank=%d quarantined=%d reason=%s", r->checkpoint, (long long)r->lo, (long long)r->hi, r->rank,
                   r->flag, r->text ? r->text : "");
            break;
        case JOURNAL_END: printf(" status=%d", r->flag); break;
        default: break;
        }
        printf("\n");
    }
}

// Shards marked in /done (a hint), or −1 when the file cannot be read.
static long long done_hints(const char *path, long long *total) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    long long marked = -1;
    hid_t d = H5Dopen2(f, "/done", H5P_DEFAULT);
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        if (H5Sget_simple_extent_ndims(s) == 2) {
            H5Sget_simple_extent_dims(s, dims, NULL);
            *total = (long long)(dims[0] * dims[1]);
            uint8_t *v = malloc(dims[0] * dims[1] + 1);
            if (v && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0) {
                marked = 0;
                for (hsize_t q = 0; q < dims[0] * dims[1]; q++) marked += v[q] != 0;
            }
            free(v);
        }
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return marked;
}

// --tokens STEP: the per-token records of one checkpoint that the journal vouches for.
typedef struct token_dump {
    int32_t checkpoint;
    int64_t run;
    int rank, n_instances;
    const int64_t *owner_run;  // [N] run of the DONE record covering the instance, 0 = none
    const int *owner_rank;     // [N]
    char **rows;               // [N] CSV text of the instance (the file's last valid record)
} token_dump;

static void collect_record(void *ctx, int32_t c, int64_t instance, int64_t n, const double *sup, const int64_t *rank,
                           const double *ent, const uint8_t *correct) {
    token_dump *d = ctx;
    if (c != d->checkpoint || instance < 0 || instance >= d->n_instances) return;
    if (d->owner_run[instance] != d->run || d->owner_rank[instance] != d->rank) return;
    size_t cap = (size_t)n * 120 + 1, len = 0;
    char *text = malloc(cap);
    if (!text) return;
    text[0] = '\0';
    for (int64_t k = 0; k < n; k++)
        len += (size_t)snprintf(text + len, cap - len, "%lld,%lld,%.17g,%lld,%.17g,%d\n", (long long)instance, (long long)k, sup[k],
                                (long long)rank[k], ent[k], correct[k]);
    free(d->rows[instance]);
    d->rows[instance] = text;
}

static int dump_tokens(const char *stats, const journal_contents *jc, const sweep_history *h, long long step) {
    char steps[65536];
    journal_header_value(steps, sizeof steps, h->header, "steps");
    int32_t c = -1, k = 0;
    for (char *tok = strtok(steps, ","); tok; tok = strtok(NULL, ","), k++)
        if (atoll(tok) == step) c = k;
    if (c < 0) { fprintf(stderr, "memprof status: --tokens %lld: not a step of this sweep\n", step); return EXIT_FAILURE_INPUT; }
    const int64_t N = h->n_instances;
    int64_t *owner_run = calloc((size_t)N, sizeof *owner_run);
    int *owner_rank = calloc((size_t)N, sizeof *owner_rank);
    char **rows = calloc((size_t)N, sizeof *rows);
    if (!owner_run || !owner_rank || !rows) { fprintf(stderr, "memprof status: out of memory\n"); return EXIT_FAILURE_INPUT; }
    int64_t run = 0;
    for (size_t r = 0; r < jc->count; r++) {
        const journal_record *rec = &jc->records[r];
        if (rec->type == JOURNAL_RUN) run++;
        if (rec->type != JOURNAL_DONE || rec->checkpoint != c) continue;
        for (int64_t i = rec->lo; i < rec->hi && i < N; i++) { owner_run[i] = run; owner_rank[i] = rec->rank; }
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s.tokens", stats);
    int status = EXIT_OK;
    // Every (run, rank) file that owns a cell of this checkpoint, read once.
    for (int64_t i = 0; i < N && status == EXIT_OK; i++) {
        if (!owner_run[i] || rows[i]) continue;
        token_dump d = {.checkpoint = c, .run = owner_run[i], .rank = owner_rank[i], .n_instances = (int)N,
                        .owner_run = owner_run, .owner_rank = owner_rank, .rows = rows};
        char path[4400];
        token_file_path(path, sizeof path, dir, d.run, d.rank);
        memprof_error err = {0};
        if (token_file_read(path, collect_record, &d, &err)) { fprintf(stderr, "memprof status: %s\n", err.message); status = EXIT_FAILURE_INPUT; }
        if (!rows[i] && status == EXIT_OK) {
            fprintf(stderr, "memprof status: %s: no record for instance %lld of step %lld that the journal says is done\n", path, (long long)i, step);
            status = EXIT_FAILURE_INPUT;
        }
    }
    if (status == EXIT_OK) {
        printf("instance,pos,surprisal,rank,entropy,correct\n");
        for (int64_t i = 0; i < N; i++) if (rows[i]) fputs(rows[i], stdout);
    }
    for (int64_t i = 0; i < N; i++) free(rows[i]);
    free(rows); free(owner_run); free(owner_rank);
    return status;
}

int command_status(int argc, char **argv) {
    const char *journal_path = NULL;
    int records = 0;
    long long tokens_step = -1;
    static const struct option options[] = {{"journal", required_argument, NULL, 'j'}, {"records", no_argument, NULL, 'r'},
                                            {"tokens", required_argument, NULL, 't'},
                                            {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'j': journal_path = optarg; break;
        case 'r': records = 1; break;
        case 't': tokens_step = atoll(optarg); break;
        case 'h': printf("usage: memprof status STATS.h5 [--journal FILE] [--records | --tokens STEP]\n"); return EXIT_OK;
        default: fprintf(stderr, "usage: memprof status STATS.h5 [--journal FILE] [--records | --tokens STEP]\n"); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) { fprintf(stderr, "usage: memprof status STATS.h5 [--journal FILE] [--records | --tokens STEP]\n"); return EXIT_USAGE; }
    const char *stats = argv[optind];
    char default_journal[4200];
    snprintf(default_journal, sizeof default_journal, "%s.journal", stats);
    if (!journal_path) journal_path = default_journal;

    memprof_error err = {0};
    journal_contents jc = {0};
    sweep_history h = {0};
    int rc = journal_read(&jc, journal_path, &err);
    if (!rc) rc = sweep_history_build(&h, &jc, journal_path, &err);
    if (rc) {
        fprintf(stderr, "memprof status: %s\n", err.message);
        journal_contents_free(&jc);
        return EXIT_FAILURE_INPUT;
    }
    int status = EXIT_OK;
    if (tokens_step >= 0) {
        status = dump_tokens(stats, &jc, &h, tokens_step);
    } else if (records) {
        print_records(&jc);
    } else {
        char model[256];
        journal_header_value(model, sizeof model, h.header, "model");
        long long total = h.n_checkpoints * h.n_instances;
        long long pending = h.count[HISTORY_NONE];
        printf("sweep: %s, %lld checkpoints x %lld instances (shard %lld)\n", model, (long long)h.n_checkpoints,
               (long long)h.n_instances, (long long)h.shard_size);
        printf("runs: %lld; last run: %s\n", (long long)h.runs,
               h.last_end == JOURNAL_END_COMPLETE ? "complete" : h.last_end == JOURNAL_END_DRAINED ? "drained by a signal"
               : h.last_end == JOURNAL_END_FAILURES ? "finished with failed tasks" : "did not finish (killed or still running)");
        printf("cells: %lld/%lld done (%.1f%%), %lld failed, %lld quarantined, %lld never computed\n",
               (long long)h.count[HISTORY_DONE], total, total ? 100.0 * (double)h.count[HISTORY_DONE] / (double)total : 0.0,
               (long long)h.count[HISTORY_FAILED], (long long)h.count[HISTORY_QUARANTINED], pending);
        printf("in flight when the last run stopped: %lld cells\n", (long long)h.in_flight_cells);
        printf("cells journalled more than once: %lld\n", (long long)h.recomputed_cells);
        if (h.failed_records) printf("failures: %lld records; first: %s\n", (long long)h.failed_records, h.first_failure);
        long long todo = pending + h.count[HISTORY_FAILED];
        if (todo == 0)
            printf("a resume will: do nothing (every cell is done%s)\n", h.count[HISTORY_QUARANTINED] ? " or quarantined" : "");
        else
            printf("a resume will: compute %lld cells (%lld never computed or in flight, %lld failed before and retried)%s\n", todo,
                   pending, (long long)h.count[HISTORY_FAILED], h.count[HISTORY_QUARANTINED] ? "; quarantined cells stay skipped" : "");
        if (jc.torn_bytes) printf("journal: torn tail of %lld bytes after record %zu (dropped on resume)\n", (long long)jc.torn_bytes, jc.count);
        long long shards = 0, marked = done_hints(stats, &shards);
        if (marked >= 0) printf("/done hint: %lld/%lld shards marked\n", marked, shards);
        else printf("/done hint: %s cannot be read\n", stats);
    }
    sweep_history_free(&h);
    journal_contents_free(&jc);
    return status;
}
