// weight_share.h — node-local broadcast of a checkpoint folder over MPI host buffers: one rank
// reads the files (from the shared file system), the other ranks of its node receive the bytes
// and stage them in node-local storage (e.g. /dev/shm), then open them like any folder. This is
// the CPU/CI path of the planned NCCL weight sharing (docs/sweep.md): the same chunked protocol
// with ncclBroadcast on device buffers replacing MPI_Bcast on host buffers.
#ifndef MEMPROF_SWEEP_WEIGHT_SHARE_H
#define MEMPROF_SWEEP_WEIGHT_SHARE_H

#include <mpi.h>
#include <stddef.h>

#include "memprof/error.h"

// Collective over node. root passes checkpoint_dir (others may pass NULL); every rank passes
// the same staging_root. On return out_dir names a folder holding the checkpoint: the original
// on root, staging_root/<folder name>.from-<root's world rank> elsewhere, whose files were
// checked against root's xxh64 of each. chunk_bytes (> 0) bounds one MPI_Bcast.
// Every rank returns the same status and message.
int weights_node_broadcast(char *out_dir, size_t out_size, MPI_Comm node, int root, const char *checkpoint_dir,
                           const char *staging_root, size_t chunk_bytes, memprof_error *err);

#endif
