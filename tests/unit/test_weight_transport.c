// test_weight_transport.c — a checkpoint shared in memory over the MPI transport (CPU backend,
// host buffers). Run directly, it re-runs itself under `mpirun -np 3 --oversubscribe`: rank 0
// loads each fixture from its folder and serves its weight buffer (weights_memory_serve: the
// offer, then the bytes in 4 KiB messages) to ranks 1 and 2, which build their models with the
// backend's allocate and receive into them without opening the folder. Checked: checksum and
// config arrive as checkpoint_open gives them, the received buffer equals the sender's, and the
// statistics of the fixture sequences are bit for bit those of the model loaded from the
// folder. Then: a byte flipped in transit fails the xxh64 check; a holder without the model
// refuses; a missing libnccl.so.2 is an error, not a crash; MPI throughput of a 256 MiB buffer.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/backend.h"
#include "memprof/checkpoint.h"
#include "sweep/weight_memory.h"
#include "sweep/weight_transport.h"
#include "test.h"
#include "test_mpirun.h"

enum { SEQUENCES = 3, LENGTH = 9 };

// Rank 0 prints; every rank's outcome is gathered first.
static void check_all(int rank, int mine, const char *name, const char *why) {
    int all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0) CHECK(name, all, "%s", why);
}

static void score(double out[SEQUENCES][4], const backend *cpu, void *model, int *rc, memprof_error *err) {
    static const int32_t tokens[SEQUENCES][LENGTH] = {
        {5, 17, 301, 2, 999, 44, 12, 7, 600}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {900, 12, 12, 12, 450, 3, 0, 77, 31}};
    token_sequence sequences[SEQUENCES];
    sequence_statistics stats[SEQUENCES];
    memset(stats, 0, sizeof stats);
    for (int i = 0; i < SEQUENCES; i++) sequences[i] = (token_sequence){tokens[i], LENGTH};
    if (*rc == 0) *rc = cpu->score(stats, NULL, model, sequences, SEQUENCES, err);
    for (int i = 0; i < SEQUENCES; i++) {
        out[i][0] = stats[i].sup_seq; out[i][1] = stats[i].acc_seq;
        out[i][2] = stats[i].entr_seq; out[i][3] = stats[i].avg_rank;
    }
}

static void check_fixture(const char *fixture, int rank) {
    const backend *cpu = cpu_backend();
    backend_options options = {.threads = 1};
    memprof_error err = {0};
    checkpoint *ckpt = NULL;
    void *model = NULL;
    weights_memory_offer offer;
    memset(&offer, 0, sizeof offer);
    char checksum[24] = "", label[512];
    int rc = 0;
    if (rank == 0) {
        char hex[17];
        rc = checkpoint_open(&ckpt, fixture, &err);
        if (!rc) {
            checkpoint_checksum(hex, ckpt);
            snprintf(checksum, sizeof checksum, "xxh64:%s", hex);
            rc = cpu->load(&model, ckpt, &options, &err);
        }
        for (int dest = 1; dest <= 2; dest++)  // a failed load refuses (model NULL): the others see it
            if (weights_memory_serve(MPI_COMM_WORLD, dest, 7, cpu, rc ? NULL : model, checksum, NULL, 4096, &err) != 0 && !rc)
                rc = -1;
    } else {
        rc = weights_memory_receive(&model, &offer, MPI_COMM_WORLD, 0, cpu, &options, NULL, 4096, &err);
        if (rc == 1) snprintf(err.message, sizeof err.message, "rank 0 refused");
    }
    snprintf(label, sizeof label, "weight transport: %s served by rank 0, allocated and received by ranks 1 and 2", fixture);
    check_all(rank, rc == 0, label, err.message);

    // What the receivers got instead of opening the folder.
    MPI_Bcast(checksum, sizeof checksum, MPI_CHAR, 0, MPI_COMM_WORLD);
    model_config reference;
    memset(&reference, 0, sizeof reference);
    if (rank == 0 && ckpt) reference = *checkpoint_config(ckpt);
    MPI_Bcast(&reference, sizeof reference, MPI_BYTE, 0, MPI_COMM_WORLD);
    int same = rank == 0 || (!rc && strcmp(offer.checksum, checksum) == 0 && offer.checkpoint == 7 &&
                             memcmp(&offer.config, &reference, sizeof reference) == 0);
    snprintf(label, sizeof label, "weight transport: %s offer carries checkpoint_open's checksum and config", fixture);
    check_all(rank, same, label, checksum);

    // The received buffer is the sender's, byte for byte (compared through its xxh64 on every rank).
    backend_weights view = {0};
    unsigned long long hash[2] = {0, 0}, sender[2] = {0, 0};
    if (!rc && cpu->weights_view(&view, model) == 0) {
        hash[0] = view.bytes;
        for (size_t k = 0; k < view.bytes; k++) hash[1] = hash[1] * 1099511628211ull + ((unsigned char *)view.data)[k];
    }
    memcpy(sender, hash, sizeof hash);
    MPI_Bcast(sender, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    snprintf(label, sizeof label, "weight transport: %s received buffer equals the sender's (%llu bytes)", fixture, sender[0]);
    check_all(rank, !rc && sender[0] > 0 && memcmp(sender, hash, sizeof hash) == 0, label, "buffers differ");

    double values[SEQUENCES][4], all[3][SEQUENCES][4];
    score(values, cpu, model, &rc, &err);
    MPI_Gather(values, SEQUENCES * 4, MPI_DOUBLE, all, SEQUENCES * 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    snprintf(label, sizeof label, "weight transport: %s statistics of the received models bit for bit those of the folder's",
             fixture);
    int scored = rc == 0, everywhere = 0;
    MPI_Allreduce(&scored, &everywhere, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0)
        CHECK(label, everywhere && memcmp(all[0], all[1], sizeof all[0]) == 0 && memcmp(all[0], all[2], sizeof all[0]) == 0,
              "%.17g %.17g %.17g", all[0][0][0], all[1][0][0], all[2][0][0]);
    if (model) cpu->unload(model);
    checkpoint_close(ckpt);
}

// The CPU backend's view with another layout tag: a sender whose weights are arranged
// differently (a CUDA rank with another MEMPROF_RESIDUAL_GEMM) but have the same bytes.
static int other_layout_view(backend_weights *out, void *model) {
    int rc = cpu_backend()->weights_view(out, model);
    out->layout = 2;
    return rc;
}

// A byte flipped after receipt (test hook) must fail the hash check; a holder without the
// checkpoint refuses; weights in another layout are refused before any byte moves. Ranks 0
// and 1 only.
static void check_failures(int rank) {
    const backend *cpu = cpu_backend();
    backend_options options = {.threads = 1};
    memprof_error err = {0};
    checkpoint *ckpt = NULL;
    void *model = NULL;
    weights_memory_offer offer;
    int rc = 0;
    if (rank == 0) {
        rc = checkpoint_open(&ckpt, "tests/fixtures/tiny-neox-f32-safetensors", &err);
        if (!rc) rc = cpu->load(&model, ckpt, &options, &err);
        int sent = weights_memory_serve(MPI_COMM_WORLD, 1, 3, cpu, rc ? NULL : model, "xxh64:0", NULL, 0, &err);
        int refused = weights_memory_serve(MPI_COMM_WORLD, 1, 4, cpu, NULL, "", NULL, 0, &err);
        CHECK("weight transport: a holder without the checkpoint refuses", refused == 1, "serve returned %d", refused);
        backend other = *cpu;
        other.weights_view = other_layout_view;
        int declined = weights_memory_serve(MPI_COMM_WORLD, 1, 5, &other, rc ? NULL : model, "xxh64:0", NULL, 0, &err);
        CHECK("weight transport: the sender hears that weights in another layout were not taken", declined != 0 && declined != 1,
              "serve returned %d", declined);
        (void)sent;
    } else if (rank == 1) {
        transport_test_corrupt_receives(1);
        rc = weights_memory_receive(&model, &offer, MPI_COMM_WORLD, 0, cpu, &options, NULL, 0, &err);
        int detected = rc < 0 && model == NULL && strstr(err.message, "xxh64") != NULL;
        char message[1100];
        snprintf(message, sizeof message, "rc %d: %s", rc, err.message);
        MPI_Send(&detected, 1, MPI_INT, 0, 5, MPI_COMM_WORLD);
        MPI_Send(message, sizeof message, MPI_CHAR, 0, 6, MPI_COMM_WORLD);
        void *none = NULL;
        int refused = weights_memory_receive(&none, &offer, MPI_COMM_WORLD, 0, cpu, &options, NULL, 0, &err);
        MPI_Send(&refused, 1, MPI_INT, 0, 7, MPI_COMM_WORLD);
        void *mismatched = NULL;
        int layout_refused = weights_memory_receive(&mismatched, &offer, MPI_COMM_WORLD, 0, cpu, &options, NULL, 0, &err);
        int layout_ok = layout_refused == 1 && mismatched == NULL && strstr(err.message, "layout 2, this model's in 0");
        MPI_Send(&layout_ok, 1, MPI_INT, 0, 8, MPI_COMM_WORLD);
    }
    if (rank == 0) {
        int detected = 0, refused = 0;
        char message[1100];
        MPI_Recv(&detected, 1, MPI_INT, 1, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Recv(message, sizeof message, MPI_CHAR, 1, 6, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Recv(&refused, 1, MPI_INT, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        CHECK("weight transport: a byte flipped in transit fails the receiver's xxh64 check, no model", detected, "%s", message);
        CHECK("weight transport: the requester sees the refusal", refused == 1, "receive returned %d", refused);
        int layout_ok = 0;
        MPI_Recv(&layout_ok, 1, MPI_INT, 1, 8, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        CHECK("weight transport: weights in another layout (same bytes) are refused, no model", layout_ok,
              "the receiver took them or said something else");
    }
    if (model) cpu->unload(model);
    checkpoint_close(ckpt);
    MPI_Barrier(MPI_COMM_WORLD);
}

// 256 MiB host buffer rank 0 → rank 1 in 64 MiB messages: MB/s (reported, not a criterion).
static void measure(int rank) {
    size_t bytes = (size_t)256 << 20;
    uint8_t *buffer = rank <= 1 ? malloc(bytes) : NULL;
    int ok = rank > 1 || buffer != NULL, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (!all) { if (rank == 0) SKIP("weight transport: throughput", "no memory for 256 MiB"); free(buffer); return; }
    if (rank == 0) for (size_t k = 0; k < bytes; k++) buffer[k] = (uint8_t)(k * 2654435761u >> 13);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    memprof_error err = {0};
    int rc = 0;
    if (rank == 0) rc = transport_mpi_send(MPI_COMM_WORLD, 1, 9, buffer, bytes, (size_t)64 << 20, &err);
    if (rank == 1) rc = transport_mpi_receive(buffer, bytes, MPI_COMM_WORLD, 0, 9, (size_t)64 << 20, &err);
    double seconds = 0;
    if (rank == 1) {
        seconds = MPI_Wtime() - t0;
        MPI_Send(&seconds, 1, MPI_DOUBLE, 0, 10, MPI_COMM_WORLD);
    }
    if (rank == 0) MPI_Recv(&seconds, 1, MPI_DOUBLE, 1, 10, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    char label[256];
    snprintf(label, sizeof label, "weight transport: 256 MiB over MPI, hash checked (%.0f MB/s, %.3f s, hashing included)",
             (double)bytes / 1e6 / (seconds > 0 ? seconds : 1e-9), seconds);
    check_all(rank, rc == 0, label, err.message);
    free(buffer);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--ranked") != 0) return test_run_under_mpirun("weight transport", argv[0], 3);
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    check_fixture("tests/fixtures/tiny-neox-f32-safetensors", rank);
    check_fixture("tests/fixtures/tiny-neox-f16-bin", rank);
    check_failures(rank);
    measure(rank);
    if (rank == 0) {  // NCCL missing (or not compiled in): an error to fall back on, not a crash
        setenv("MEMPROF_NCCL_LIBRARY", "/nonexistent/libnccl.so.2", 1);
        nccl_link *link = NULL;
        memprof_error err = {0};
        int rc = nccl_link_open(&link, MPI_COMM_SELF, MPI_COMM_SELF, 0, &err);
        CHECK("weight transport: without libnccl.so.2 nccl_link_open fails cleanly (no link)",
              rc != 0 && link == NULL && !nccl_link_usable(link) && err.message[0], "rc %d", rc);
        unsetenv("MEMPROF_NCCL_LIBRARY");
    }
    int failures = test_failures;
    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return failures ? 1 : 0;
}
