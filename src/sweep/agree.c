// agree.c — see agree.h. Two collectives: an MPI_MIN over "my rank if I failed", then a
// broadcast of that rank's code and message.
#include "sweep/agree.h"

int sweep_agree(int rc, memprof_error *err, MPI_Comm comm) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = rc ? rank : size, first = size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size) return MEMPROF_OK;
    int code = rc;
    MPI_Bcast(&code, 1, MPI_INT, first, comm);
    MPI_Bcast(err->message, sizeof err->message, MPI_CHAR, first, comm);
    err->code = code ? code : MEMPROF_ERR;
    return err->code;
}
