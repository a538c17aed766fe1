// test_weight_share.c — node-local broadcast of a checkpoint over MPI host buffers. Run
// directly, it re-runs itself under `mpirun -np 3 --oversubscribe`; rank 0 shares each fixture
// folder in small chunks (several chunks per file), ranks 1 and 2 open the staged copy, and
// all three must agree on the checkpoint checksum and on the statistics of one sequence bit
// for bit. A missing folder must fail on every rank with the same message.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/backend.h"
#include "memprof/checkpoint.h"
#include "sweep/weight_share.h"
#include "test.h"
#include "test_mpirun.h"

static void check_fixture(const char *fixture, const char *staging, int rank, int *failures) {
    char dir[4096], label[256];
    memprof_error err = {0};
    int rc = weights_node_broadcast(dir, sizeof dir, MPI_COMM_WORLD, 0, rank == 0 ? fixture : NULL, staging, 4096, &err);
    char sum[17] = "";
    sequence_statistics stats = {0};
    checkpoint *ckpt = NULL;
    void *model = NULL;
    const backend *cpu = cpu_backend();
    backend_options options = {.threads = 1};
    if (!rc) rc = checkpoint_open(&ckpt, dir, &err);
    if (!rc) {
        checkpoint_checksum(sum, ckpt);
        rc = cpu->load(&model, ckpt, &options, &err);
    }
    if (!rc) {
        int32_t tokens[9] = {5, 17, 301, 2, 999, 44, 12, 7, 600};
        token_sequence seq = {tokens, 9};
        rc = cpu->score(&stats, NULL, model, &seq, 1, &err);
    }
    if (model) cpu->unload(model);
    checkpoint_close(ckpt);
    int all_ok = 0, mine = rc == 0;
    MPI_Allreduce(&mine, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    char sums[3][17];
    double values[3][4], mine_values[4] = {stats.sup_seq, stats.acc_seq, stats.entr_seq, stats.avg_rank};
    MPI_Gather(sum, 17, MPI_CHAR, sums, 17, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Gather(mine_values, 4, MPI_DOUBLE, values, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank != 0) return;
    snprintf(label, sizeof label, "weight share: %s staged on ranks 1 and 2 opens and scores", fixture);
    if (!all_ok) { printf("FAIL %s: %s\n", label, err.message); (*failures)++; return; }
    printf("PASS %s\n", label);
    int same = strcmp(sums[0], sums[1]) == 0 && strcmp(sums[0], sums[2]) == 0 && sums[0][0];
    snprintf(label, sizeof label, "weight share: %s checksum identical on every rank", fixture);
    if (same) printf("PASS %s\n", label); else { printf("FAIL %s: %s %s %s\n", label, sums[0], sums[1], sums[2]); (*failures)++; }
    same = memcmp(values[0], values[1], sizeof values[0]) == 0 && memcmp(values[0], values[2], sizeof values[0]) == 0;
    snprintf(label, sizeof label, "weight share: %s statistics identical bit for bit on every rank", fixture);
    if (same) printf("PASS %s\n", label); else { printf("FAIL %s: %.17g %.17g %.17g\n", label, values[0][0], values[1][0], values[2][0]); (*failures)++; }
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--ranked") != 0) return test_run_under_mpirun("weight share", argv[0], 3);
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char staging[] = "/tmp/memprof-test-share-XXXXXX";
    if (rank == 0 && !mkdtemp(staging)) staging[0] = '\0';
    MPI_Bcast(staging, sizeof staging, MPI_CHAR, 0, MPI_COMM_WORLD);
    char node_staging[256];
    snprintf(node_staging, sizeof node_staging, "%s/rank%d", staging, rank);  // each rank its own "node-local" store
    int failures = 0;
    check_fixture("tests/fixtures/tiny-neox-f32-safetensors", node_staging, rank, &failures);
    check_fixture("tests/fixtures/tiny-neox-f16-bin", node_staging, rank, &failures);

    char dir[4096];
    memprof_error err = {0};
    int rc = weights_node_broadcast(dir, sizeof dir, MPI_COMM_WORLD, 0, rank == 0 ? "tests/fixtures/no-such-checkpoint" : NULL,
                                    node_staging, 4096, &err);
    char first[1024];
    memcpy(first, err.message, sizeof first);
    MPI_Bcast(first, sizeof first, MPI_CHAR, 0, MPI_COMM_WORLD);
    int same = rc != 0 && strcmp(first, err.message) == 0 && strstr(err.message, "no-such-checkpoint") != NULL, all = 0;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0) {
        if (all) printf("PASS weight share: a missing folder fails on every rank with the root's message\n");
        else { printf("FAIL weight share: missing folder: rc %d, '%s'\n", rc, err.message); failures++; }
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", staging);
        if (system(cmd) != 0) printf("FAIL weight share: cleanup\n");
    }
    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return failures || test_failures ? 1 : 0;
}
