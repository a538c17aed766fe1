// folder_files.h — the files of a checkpoint folder that travel between a node's workers
// (peer copies, striped reads): its regular, non-hidden files, sorted by name.
#ifndef MEMPROF_SWEEP_FOLDER_FILES_H
#define MEMPROF_SWEEP_FOLDER_FILES_H

#include <stdint.h>

#include "memprof/error.h"

enum { FOLDER_NAME_BYTES = 256, FOLDER_MAX_FILES = 4096 };

// Sent over MPI as raw bytes by weight_share.c: keep it plain data.
typedef struct folder_file {
    char name[FOLDER_NAME_BYTES];
    uint64_t size;
    uint64_t hash;  // xxh64 where a caller fills it; 0 from folder_list_files
} folder_file;

// *out (caller frees) holds *count entries; a folder with no files gives count 0.
int folder_list_files(folder_file **out, int *count, const char *dir, memprof_error *err);

#endif
