// test_stripe.c — striped node reads (src/sweep/stripe.c). Run directly, it re-runs itself
// under `mpirun -np 4 --oversubscribe`. Checks: the plan covers every byte once on aligned
// boundaries; rank 0 stripes each fixture checkpoint with ranks 1–3 (small alignment, so files
// split across ranks, and the default 1 MiB, where config.json is far smaller than a stripe)
// and the staged files equal the originals byte for byte with the same checkpoint checksum;
// a folder with an empty file, a 100-byte file and a 2.5 MiB file; a read with no peers; all
// four ranks striping at once, each the others' peer; and faults: a peer that damages what it
// writes (verification catches it) or reports failure — the requester copies those ranges
// again and the result is still bit-identical.
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "memprof/checkpoint.h"
#include "sweep/stripe.h"
#include "sweep/weight_share.h"
#include "test.h"
#include "test_mpirun.h"

static int rank, size;
static int failures;

// Reports on rank 0 whether every rank's `ok` holds.
static void agree_check(const char *label, int ok, const char *why) {
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0) {
        if (all) printf("PASS stripe: %s\n", label);
        else { printf("FAIL stripe: %s%s%s\n", label, ok ? "" : ": ", ok ? " (on another rank)" : why); failures++; }
    }
}

// Serves peers until every rank got here (the sweep's MPI_Ibarrier pattern).
static void serve_until_all_arrive(stripe_server *s) {
    MPI_Request all;
    MPI_Ibarrier(MPI_COMM_WORLD, &all);
    for (int done = 0; !done;) {
        stripe_server_poll(s);
        MPI_Test(&all, &done, MPI_STATUS_IGNORE);
    }
}

static int read_file(const char *path, unsigned char **data, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)*len + 1);
    int ok = *data && fread(*data, 1, (size_t)*len, f) == (size_t)*len;
    fclose(f);
    return ok ? 0 : -1;
}

// Every file of `original` equals its staged copy; the checkpoint checksums agree when asked.
static int same_folder(const char *original, const char *staged, const char *const *names, int n, int checksum, char *why, size_t why_size) {
    for (int k = 0; k < n; k++) {
        char a[4400], b[4400];
        snprintf(a, sizeof a, "%s/%s", original, names[k]);
        snprintf(b, sizeof b, "%s/%s", staged, names[k]);
        unsigned char *x = NULL, *y = NULL;
        long lx = -1, ly = -2;
        int same = read_file(a, &x, &lx) == 0 && read_file(b, &y, &ly) == 0 && lx == ly && memcmp(x, y, (size_t)lx) == 0;
        free(x); free(y);
        if (!same) { snprintf(why, why_size, "%.400s differs from %.400s (%ld vs %ld bytes)", b, a, lx, ly); return 0; }
    }
    if (!checksum) return 1;
    checkpoint *c1 = NULL, *c2 = NULL;
    memprof_error err = {0};
    char s1[17] = "", s2[17] = "";
    if (checkpoint_open(&c1, original, &err) == 0) checkpoint_checksum(s1, c1);
    if (checkpoint_open(&c2, staged, &err) == 0) checkpoint_checksum(s2, c2);
    checkpoint_close(c1); checkpoint_close(c2);
    if (!s1[0] || strcmp(s1, s2) != 0) { snprintf(why, why_size, "checksum %s (original) vs %s (staged): %.400s", s1, s2, err.message); return 0; }
    return 1;
}

static const char *fixture_files[] = {"config.json", "model.safetensors", "reference.safetensors"};
static const char *fixture16_files[] = {"config.json", "pytorch_model.bin", "reference.safetensors"};
static const char *synthetic_files[] = {"empty", "small", "big"};

// `reader` stripes `folder` with `peers`; everyone else serves. Checks the copy on the reader.
static void striped_round(stripe_server *s, const char *label, int reader, const char *folder, const char *staging, const int *peers, int n_peers,
                          uint64_t align, const char *const *names, int n_names, int checksum, int expect_recopies) {
    char staged[4096] = "", why[1024] = "";
    int ok = 1;
    if (rank == reader) {
        stripe_stats st;
        memprof_error err = {0};
        int rc = stripe_read(staged, sizeof staged, s, folder, staging, peers, n_peers, align, NULL, NULL, &st, &err);
        if (rc) { ok = 0; snprintf(why, sizeof why, "stripe_read: %.900s", err.message); }
        else {
            ok = same_folder(folder, staged, names, n_names, checksum, why, sizeof why);
            if (ok && (expect_recopies ? st.ranges_recopied == 0 : st.ranges_recopied != 0)) {
                ok = 0;
                snprintf(why, sizeof why, "%d ranges copied again by the requester, expected %s", st.ranges_recopied, expect_recopies ? "some" : "none");
            }
            printf("# %s: %d ranks, %.2f MB in %.3f s (%.0f MB/s), %d ranges recopied\n", label, st.ranks, (double)st.bytes / 1e6, st.seconds,
                   st.seconds > 0 ? (double)st.bytes / 1e6 / st.seconds : 0.0, st.ranges_recopied);
            weights_remove_staged(staged);
            struct stat sb;
            if (ok && stat(staged, &sb) == 0) { ok = 0; snprintf(why, sizeof why, "%.900s left after weights_remove_staged", staged); }
        }
    }
    serve_until_all_arrive(s);
    agree_check(label, ok, why);
}

typedef struct finish_args {
    stripe_reading *r;
    char *out;
    size_t size;
    stripe_stats stats;
    int rc;
    memprof_error err;
} finish_args;

static void *finish_thread(void *arg) {
    finish_args *a = arg;
    a->rc = stripe_read_finish(a->r, a->out, a->size, &a->stats, &a->err);
    return NULL;
}

static void check_plan(void) {
    if (rank != 0) return;
    stripe_file files[4] = {{"a", 0}, {"b", 100}, {"c", 5000}, {"d", 12345}};
    const uint64_t total = 17445;
    for (int parts = 1; parts <= 5; parts++) {
        stripe_range *r = NULL;
        int *first = NULL;
        int count = stripe_plan(&r, &first, files, 4, parts, 4096);
        int ok = count > 0 && first[0] == 0 && first[parts] == count;
        uint64_t at = 0;  // concatenation offset: ranges are consecutive and cover every byte once
        int file = 1;     // "a" is empty: no range
        uint64_t file_start = 0;
        for (int p = 0; ok && p < parts; p++) {
            if (first[p] < first[p + 1] && at % 4096 != 0) ok = 0;  // a stripe starts on a boundary
            for (int k = first[p]; ok && k < first[p + 1]; k++) {
                while (file < 4 && file_start + files[file].size <= at) { file_start += files[file].size; file++; }
                ok = file < 4 && strcmp(r[k].name, files[file].name) == 0 && r[k].offset == at - file_start && r[k].length > 0;
                at += r[k].length;
            }
        }
        char label[128];
        snprintf(label, sizeof label, "stripe: the plan for %d parts covers all %llu bytes once, stripes start on 4 KiB boundaries", parts,
                 (unsigned long long)total);
        CHECK(label, ok && at == total, "count %d, covered %llu", count, (unsigned long long)at);
        free(r); free(first);
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--ranked") != 0) return test_run_under_mpirun("stripe", argv[0], 4);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char tmp[] = "/tmp/memprof-test-stripe-XXXXXX";
    if (rank == 0 && !mkdtemp(tmp)) tmp[0] = '\0';
    MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, MPI_COMM_WORLD);
    char staging[256], synthetic[256];
    snprintf(staging, sizeof staging, "%s/rank%d", tmp, rank);  // each rank its own node-local store
    snprintf(synthetic, sizeof synthetic, "%s/synthetic", tmp);
    if (rank == 0) {  // an empty file, one smaller than any stripe, one over two 1 MiB stripes
        mkdir(synthetic, 0755);
        const long sizes[3] = {0, 100, (5L << 19) + 123};
        for (int k = 0; k < 3; k++) {
            char path[300];
            snprintf(path, sizeof path, "%s/%s", synthetic, synthetic_files[k]);
            FILE *f = fopen(path, "wb");
            for (long i = 0; f && i < sizes[k]; i++) fputc((int)((i * 2654435761u + (unsigned long)k) >> 7) & 0xff, f);
            if (f) fclose(f);
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    check_plan();

    stripe_server server;
    stripe_server_init(&server, MPI_COMM_WORLD);
    const int others_of_0[3] = {1, 2, 3};
    const char *f32 = "tests/fixtures/tiny-neox-f32-safetensors", *f16 = "tests/fixtures/tiny-neox-f16-bin";
    striped_round(&server, "f32 fixture striped over 4 ranks (4 KiB stripes) equals the original, same checksum", 0, f32, staging, others_of_0, 3,
                  4096, fixture_files, 3, 1, 0);
    striped_round(&server, "f16 .bin fixture striped over 4 ranks (4 KiB stripes) equals the original, same checksum", 0, f16, staging, others_of_0,
                  3, 4096, fixture16_files, 3, 1, 0);
    striped_round(&server, "f32 fixture with 1 MiB stripes (config.json smaller than a stripe) equals the original", 0, f32, staging, others_of_0, 3,
                  (uint64_t)1 << 20, fixture_files, 3, 1, 0);
    striped_round(&server, "f16 fixture with 1 MiB stripes equals the original", 0, f16, staging, others_of_0, 3, (uint64_t)1 << 20,
                  fixture16_files, 3, 1, 0);
    striped_round(&server, "empty, 100-byte and 2.5 MiB files striped by rank 2 equal the originals", 2, synthetic, staging,
                  (const int[]){0, 1, 3}, 3, 0, synthetic_files, 3, 0, 0);
    striped_round(&server, "default alignment on a folder under 1 MiB per rank: page-sized stripes, f32 fixture equals the original", 3, f32,
                  staging, (const int[]){0, 1, 2}, 3, 0, fixture_files, 3, 1, 0);
    striped_round(&server, "a striped read with no peers copies the folder alone", 1, f16, staging, NULL, 0, 0, fixture16_files, 3, 1, 0);

    // The three-step form the prefetch uses: start, poll until ready, verify on a thread.
    {
        char staged[4096] = "", why[1024] = "";
        int ok = 1;
        if (rank == 1) {
            stripe_reading *r = NULL;
            memprof_error err = {0};
            int rc = stripe_read_start(&r, &server, f16, staging, (const int[]){0, 2, 3}, 3, 4096, &err);
            stripe_reading *second = NULL;
            int refused = stripe_read_start(&second, &server, f32, staging, NULL, 0, 0, &err) != 0;
            if (!rc) {
                while (!stripe_read_ready(r)) {}
                finish_args a = {r, staged, sizeof staged, {0}, 0, {0}};
                pthread_t t;
                pthread_create(&t, NULL, finish_thread, &a);
                pthread_join(t, NULL);
                rc = a.rc;
                if (rc) snprintf(why, sizeof why, "%.900s", a.err.message);
                else if (a.stats.ranks != 4) { rc = 1; snprintf(why, sizeof why, "%d ranks, want 4", a.stats.ranks); }
            } else snprintf(why, sizeof why, "%.900s", err.message);
            ok = rc == 0 && refused && same_folder(f16, staged, fixture16_files, 3, 1, why, sizeof why);
            if (!refused) snprintf(why, sizeof why, "a second striped read was accepted while one is under way");
            if (!rc) weights_remove_staged(staged);
        }
        serve_until_all_arrive(&server);
        agree_check("start / ready / finish on a thread: f16 fixture over 4 ranks equals the original; one read at a time", ok, why);
    }

    // Every rank stripes at once, each a peer of the others: nobody waits on anybody for good.
    {
        int peers[3], n = 0;
        for (int r = 0; r < size && n < 3; r++) if (r != rank) peers[n++] = r;
        char staged[4096], why[1024] = "";
        stripe_stats st;
        memprof_error err = {0};
        int rc = stripe_read(staged, sizeof staged, &server, rank % 2 ? f16 : f32, staging, peers, n, 4096, NULL, NULL, &st, &err);
        int ok = rc == 0 && same_folder(rank % 2 ? f16 : f32, staged, rank % 2 ? fixture16_files : fixture_files, 3, 1, why, sizeof why);
        if (rc) snprintf(why, sizeof why, "%.900s", err.message);
        if (!rc) weights_remove_staged(staged);
        serve_until_all_arrive(&server);
        agree_check("4 ranks striping at once, each serving the others, all get bit-identical copies", ok, why);
        long long served = server.stripes_served, total = 0;
        MPI_Allreduce(&served, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
        agree_check("stripes served are counted", total > 0, "no stripe counted as served");
    }

    // Faults: rank 2 damages the bytes it writes for others (reporting the source's hash), then
    // reports failure instead; the requester copies rank 2's ranges again either way.
    stripe_server_free(&server);
    setenv("MEMPROF_TEST_STRIPE_FAIL_RANK", "2", 1);
    stripe_server_init(&server, MPI_COMM_WORLD);
    striped_round(&server, "a peer that writes wrong bytes is caught by the re-hash; its ranges recopied, copy bit-identical", 0, f16, staging,
                  others_of_0, 3, 4096, fixture16_files, 3, 1, 1);
    stripe_server_free(&server);
    setenv("MEMPROF_TEST_STRIPE_FAIL_MODE", "error", 1);
    stripe_server_init(&server, MPI_COMM_WORLD);
    striped_round(&server, "a peer that reports failure: its ranges recopied, copy bit-identical", 0, f32, staging, others_of_0, 3, 4096,
                  fixture_files, 3, 1, 1);
    long long failed = server.stripes_failed, all_failed = 0;
    MPI_Allreduce(&failed, &all_failed, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    agree_check("the failing peer counts its failed stripe", all_failed > 0, "no failed stripe counted");
    stripe_server_free(&server);
    unsetenv("MEMPROF_TEST_STRIPE_FAIL_RANK");
    unsetenv("MEMPROF_TEST_STRIPE_FAIL_MODE");

    // A missing folder: an error, nothing staged, no peer asked.
    stripe_server_init(&server, MPI_COMM_WORLD);
    if (rank == 0) {
        char staged[4096];
        stripe_stats st;
        memprof_error err = {0};
        int rc = stripe_read(staged, sizeof staged, &server, "tests/fixtures/no-such-checkpoint", staging, others_of_0, 3, 0, NULL, NULL, &st, &err);
        struct stat sb;
        CHECK("stripe: a missing folder fails naming it and stages nothing",
              rc != 0 && strstr(err.message, "no-such-checkpoint") && stat(staged, &sb) != 0, "rc %d: %s", rc, err.message);
    }
    serve_until_all_arrive(&server);
    agree_check("no stripe request is left over", !stripe_server_busy(&server), "server still busy");
    stripe_server_free(&server);

    if (rank == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
        if (system(cmd) != 0) printf("FAIL stripe: cleanup\n");
    }
    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int mine = test_failures, total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return failures || total ? 1 : 0;
}
