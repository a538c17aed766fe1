// test_nccl_share.c — the NCCL path of weight sharing on one GPU (NCCL refuses two ranks on
// one GPU, so the lent one-GPU machine runs the one-rank case; the multi-rank path needs a
// multi-GPU node): a one-rank communicator over MPI_COMM_SELF, the weight buffer of a CUDA
// model loaded from a fixture sent to itself (ncclGroupStart; ncclSend to self; ncclRecv from
// self; ncclGroupEnd) into a model built with the backend's allocate; the two buffers must be
// equal and the received model must score exactly as the loaded one. SKIP without a CUDA
// build, a GPU or libnccl.so.2 (MEMPROF_NCCL_LIBRARY names another path). Run by
// scripts/device-check.sh.
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#ifdef MEMPROF_CUDA
#include <cuda_runtime_api.h>
#endif

#include "memprof/backend.h"
#include "memprof/checkpoint.h"
#include "sweep/weight_transport.h"
#include "test.h"

#ifdef MEMPROF_CUDA
enum { SEQUENCES = 3, LENGTH = 9 };

static void check_fixture(const char *fixture, nccl_link *link) {
    const backend *cuda = cuda_backend();
    backend_options options = {.device = 0, .precision = PRECISION_FP16, .batch_sequences = 4};
    memprof_error err = {0};
    checkpoint *ckpt = NULL;
    void *loaded = NULL, *received = NULL;
    char label[512];
    int rc = checkpoint_open(&ckpt, fixture, &err);
    if (!rc) rc = cuda->load(&loaded, ckpt, &options, &err);
    backend_weights from = {0}, to = {0};
    if (!rc) rc = cuda->weights_view(&from, loaded);
    if (!rc) rc = cuda->allocate(&received, checkpoint_config(ckpt), from.weight_dtype, &options, &err);
    if (!rc) rc = cuda->weights_view(&to, received);
    if (!rc && (to.bytes != from.bytes || !to.on_device || !from.on_device))
        rc = error_set(&err, MEMPROF_ERR, "views differ: %zu vs %zu bytes", from.bytes, to.bytes);
    if (!rc) rc = cudaMemset(to.data, 0, to.bytes) == cudaSuccess ? 0 : error_set(&err, MEMPROF_ERR, "cudaMemset");
    if (!rc) rc = nccl_link_exchange(link, 0, from.data, to.data, from.bytes, &err);
    snprintf(label, sizeof label, "nccl share: %s weights sent to self over NCCL into an allocated CUDA model", fixture);
    CHECK(label, rc == 0, "%s", err.message);

    int same = 0;
    if (!rc) {
        unsigned char *a = malloc(from.bytes), *b = malloc(to.bytes);
        same = a && b && cudaMemcpy(a, from.data, from.bytes, cudaMemcpyDeviceToHost) == cudaSuccess &&
               cudaMemcpy(b, to.data, to.bytes, cudaMemcpyDeviceToHost) == cudaSuccess && memcmp(a, b, from.bytes) == 0;
        free(a), free(b);
    }
    snprintf(label, sizeof label, "nccl share: %s received device buffer equals the sender's (%zu bytes)", fixture, from.bytes);
    CHECK(label, same, "buffers differ");

    static const int32_t tokens[SEQUENCES][LENGTH] = {
        {5, 17, 301, 2, 999, 44, 12, 7, 600}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {900, 12, 12, 12, 450, 3, 0, 77, 31}};
    token_sequence sequences[SEQUENCES];
    for (int i = 0; i < SEQUENCES; i++) sequences[i] = (token_sequence){tokens[i], LENGTH};
    sequence_statistics a[SEQUENCES], b[SEQUENCES];
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    if (!rc) rc = cuda->score(a, NULL, loaded, sequences, SEQUENCES, &err);
    if (!rc) rc = cuda->score(b, NULL, received, sequences, SEQUENCES, &err);
    snprintf(label, sizeof label, "nccl share: %s model built by allocate + NCCL receive scores as the one loaded from the folder",
             fixture);
    CHECK(label, rc == 0 && memcmp(a, b, sizeof a) == 0, "rc %d %s; sup %.17g vs %.17g", rc, err.message, a[0].sup_seq,
          b[0].sup_seq);
    if (received) cuda->unload(received);
    if (loaded) cuda->unload(loaded);
    checkpoint_close(ckpt);
}
#endif

int main(int argc, char **argv) {
#ifndef MEMPROF_CUDA
    SKIP("nccl share", "built without CUDA (CUDA=0)");
    return test_failures;
#else
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        SKIP("nccl share", "no GPU on this machine (the NCCL path is compiled, not run)");
        return 0;
    }
    MPI_Init(&argc, &argv);
    nccl_link *link = NULL;
    memprof_error err = {0};
    if (nccl_link_open(&link, MPI_COMM_SELF, MPI_COMM_SELF, 0, &err) != 0) {
        if (err.code == MEMPROF_ERR_UNSUPPORTED) SKIP("nccl share", "%s", err.message);
        else CHECK("nccl share: one-rank NCCL communicator", 0, "%s", err.message);
    } else {
        CHECK("nccl share: one-rank NCCL communicator on device 0", nccl_link_usable(link), "unusable");
        check_fixture("tests/fixtures/tiny-neox-f32-safetensors", link);
        check_fixture("tests/fixtures/tiny-neox-f16-bin", link);
        nccl_link_close(link);
    }
    MPI_Finalize();
    return test_failures ? 1 : 0;
#endif
}
