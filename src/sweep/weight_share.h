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
// on root, staging_root/<folder name>.from-<root's world rank>.to-<own world rank> elsewhere, whose files were
// checked against root's xxh64 of each. chunk_bytes (> 0) bounds one MPI_Bcast.
// Every rank returns the same status and message.
int weights_node_broadcast(char *out_dir, size_t out_size, MPI_Comm node, int root, const char *checkpoint_dir,
                           const char *staging_root, size_t chunk_bytes, memprof_error *err);

// Point-to-point variant for the sweep: a worker that holds a checkpoint answers a peer's
// TAG_WEIGHTS_REQUEST with weights_send (or weights_refuse when it does not hold it).
int weights_send(MPI_Comm comm, int dest, const char *dir, size_t chunk_bytes, memprof_error *err);
void weights_refuse(MPI_Comm comm, int dest);

// The requester, once a TAG_WEIGHTS_REPLY from src is waiting: receives the folder into
// staging_root/<name>.from-<src>.to-<own rank> (out_dir). Returns 1 when src refused, 0 when staged (files
// checked against src's xxh64), < 0 on error (every message from src consumed either way).
int weights_receive(char *out_dir, size_t out_size, MPI_Comm comm, int src, const char *staging_root,
                    size_t chunk_bytes, memprof_error *err);

// Deletes a staged folder's files and the folder.
void weights_remove_staged(const char *dir);

#endif
