// coordinator.c — rank 0 (see coordinator.h). Order of effects for a finished task: the
// journal record is appended and fsync'd first, then the scheduler and /done are updated; a
// kill between the two only costs a /done hint, never a journalled cell.
#include "sweep/coordinator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "memprof/clock.h"
#include "memprof/log.h"
#include "sweep/signals.h"

static void append(sweep_coordinator *co, const journal_record *r, int sync) {
    if (co->journal_failed) return;
    if (journal_append(co->journal, r, sync, &co->journal_error)) {
        co->journal_failed = 1;
        co->draining = 1;
        log_error("%s; draining", co->journal_error.message);
    }
}

// Group commit: fsync when idle, and at least every 100 ms while busy.
static void sync_journal(sweep_coordinator *co, int idle) {
    if (co->journal_failed || !co->journal->dirty) return;
    double t = clock_seconds();
    if (!idle && t - co->last_sync < 0.1) return;
    co->last_sync = t;
    if (journal_sync(co->journal, &co->journal_error)) {
        co->journal_failed = 1;
        co->draining = 1;
        log_error("%s; draining", co->journal_error.message);
    }
}

static void report_progress(sweep_coordinator *co, int final) {
    double t = clock_seconds();
    if (!final && t - co->last_progress < co->options->progress_interval_s) return;
    co->last_progress = t;
    const sweep_scheduler *s = &co->scheduler;
    sweep_progress p = {0};
    p.cells_total = s->n_checkpoints * s->n_instances;
    p.cells_running = s->total_running;
    for (int64_t c = 0; c < s->n_checkpoints; c++) p.checkpoints_done += co->checkpoint_settled[c] == s->n_instances;
    p.checkpoints_total = s->n_checkpoints;
    p.cells_done = co->cells_at_start + co->cells_done_this_run;
    p.cells_failed = p.cells_total - s->total_pending - s->total_running - p.cells_done;
    p.tasks_done = co->tasks_done;
    p.workers = s->n_workers;
    p.elapsed_s = t - co->started;
    double cells_per_s = p.elapsed_s > 0 ? (double)co->cells_done_this_run / p.elapsed_s : 0;
    p.tokens_per_s = cells_per_s * (double)co->sequence_length;
    p.eta_s = cells_per_s > 0 ? (double)(s->total_pending + s->total_running) / cells_per_s : -1;
    log_info("progress: %lld/%lld cells done, %lld failed, %lld/%lld checkpoints, %.0f tokens/s", (long long)p.cells_done,
             (long long)p.cells_total, (long long)p.cells_failed, (long long)p.checkpoints_done,
             (long long)p.checkpoints_total, p.tokens_per_s);
    if (co->options->progress) co->options->progress(co->options->progress_ctx, &p, final);
}

static void emit_checkpoint_failure(void *ctx, int32_t c, int64_t lo, int64_t hi) {
    sweep_coordinator *co = ctx;
    char why[1100];
    snprintf(why, sizeof why, "checkpoint could not be loaded: %s", co->failure_reason);
    journal_record r = {.type = JOURNAL_FAILED, .checkpoint = c, .lo = lo, .hi = hi, .rank = 0, .text = why};
    append(co, &r, 0);
    co->checkpoint_settled[c] += hi - lo;
}

static void handle_result(sweep_coordinator *co, int w, int rank, const sweep_result *r) {
    sweep_scheduler *s = &co->scheduler;
    if (r->outcome == OUTCOME_READY) return;
    sweep_task task = {.checkpoint = r->checkpoint, .lo = r->lo, .hi = r->hi, .prefetch = -1};
    int64_t n = r->hi - r->lo;
    memprof_error err = {0};
    if (r->checkpoint_checksum[0] && !co->checksum_recorded[r->checkpoint]) {
        if (stats_writer_set_checksum(co->writer, r->checkpoint, r->checkpoint_checksum, &err)) log_warn("%s", err.message);
        co->checksum_recorded[r->checkpoint] = 1;
    }
    switch (r->outcome) {
    case OUTCOME_OK: {
        if (co->worker_loaded) co->worker_loaded[w] = r->checkpoint;
        journal_record rec = {.type = JOURNAL_DONE, .checkpoint = r->checkpoint, .lo = r->lo, .hi = r->hi, .rank = rank,
                              .checksum = r->checksum, .seconds = r->compute_s};
        append(co, &rec, 0);  // group commit: see sync_journal
        if (co->journal_failed) { sweep_scheduler_mark(s, r->checkpoint, r->lo, r->hi, CELL_PENDING); return; }
        sweep_scheduler_complete(s, w, &task, true, r->compute_s, r->load_s);
        co->tasks_done++;
        co->cells_done_this_run += n;
        co->checkpoint_settled[r->checkpoint] += n;
        for (int64_t shard = r->lo / s->shard_size; shard * s->shard_size < r->hi; shard++)
            if (sweep_scheduler_shard_done(s, r->checkpoint, shard) &&
                stats_writer_mark_done(co->writer, r->checkpoint, shard, 1, &err))
                log_warn("%s", err.message);
        break;
    }
    case OUTCOME_TASK_FAILED:
    case OUTCOME_CHECKPOINT_FAILED: {
        journal_record rec = {.type = JOURNAL_FAILED, .checkpoint = r->checkpoint, .lo = r->lo, .hi = r->hi, .rank = rank,
                              .text = (char *)r->reason};
        append(co, &rec, 1);
        log_warn("task failed: checkpoint %d instances [%lld, %lld) on rank %d: %s", r->checkpoint, (long long)r->lo,
                 (long long)r->hi, rank, r->reason);
        sweep_scheduler_complete(s, w, &task, false, 0, 0);
        co->checkpoint_settled[r->checkpoint] += n;
        if (r->outcome == OUTCOME_CHECKPOINT_FAILED) {
            if (co->worker_loaded) co->worker_loaded[w] = -1;
            sweep_scheduler_release(s, w);
            co->failure_reason = r->reason;
            sweep_scheduler_fail_checkpoint(s, r->checkpoint, emit_checkpoint_failure, co);
        }
        break;
    }
    case OUTCOME_ABANDONED:
        sweep_scheduler_mark(s, r->checkpoint, r->lo, r->hi, CELL_PENDING);
        break;
    default: break;
    }
}

// A worker rank of w's node that holds checkpoint c — preferably one that has finished a task
// of it, else one still loading it (w's request then waits until that load is done) — so w
// can get c from it (weight sharing); −1 when there is none or w already has c loaded.
static int32_t peer_source(const sweep_coordinator *co, int w, int32_t c) {
    if (!co->share_weights || co->worker_loaded[w] == c) return -1;
    const sweep_scheduler *s = &co->scheduler;
    int32_t loading = -1;
    for (int v = 0; v < s->n_workers; v++) {
        if (v == w || s->worker_node[v] != s->worker_node[w]) continue;
        if (co->worker_loaded[v] == c) return v + 1;
        if (s->worker_checkpoint[v] == c && loading < 0) loading = v + 1;
    }
    return loading;
}

// The next task for worker w, journalled as dispatched; 0 when there is none for it now.
static int dispatch(sweep_coordinator *co, int w, int rank, sweep_task *task) {
    if (co->draining || !sweep_scheduler_next(&co->scheduler, w, task)) return 0;
    journal_record rec = {.type = JOURNAL_DISPATCH, .checkpoint = task->checkpoint, .lo = task->lo, .hi = task->hi, .rank = rank};
    append(co, &rec, 0);
    return 1;
}

static void check_signal(sweep_coordinator *co) {
    int signo = sweep_signal_received();
    if (signo && !co->draining) {
        co->draining = 1;
        log_warn("signal %d: draining (no new tasks; in-flight tasks finish or are abandoned)", signo);
    }
}

typedef struct mpi_dispatch { sweep_coordinator *co; MPI_Comm comm; int stopped; } mpi_dispatch;

// A task for worker w: journalled as dispatched, then sent.
static void send_task(void *ctx, int w, const sweep_task *task) {
    mpi_dispatch *d = ctx;
    journal_record rec = {.type = JOURNAL_DISPATCH, .checkpoint = task->checkpoint, .lo = task->lo, .hi = task->hi, .rank = w + 1};
    append(d->co, &rec, 0);
    sweep_task_message m = {task->checkpoint, task->prefetch, task->lo, task->hi, peer_source(d->co, w, task->checkpoint), 0};
    MPI_Send(&m, sizeof m, MPI_BYTE, w + 1, TAG_TASK, d->comm);
}

static void send_stop(void *ctx, int w) {
    mpi_dispatch *d = ctx;
    MPI_Send(NULL, 0, MPI_BYTE, w + 1, TAG_STOP, d->comm);
    d->stopped++;
}

void sweep_coordinator_loop(sweep_coordinator *co, MPI_Comm comm) {
    int size;
    MPI_Comm_size(comm, &size);
    const int n_workers = size - 1;
    uint8_t *parked = calloc((size_t)n_workers, 1);
    mpi_dispatch d = {co, comm, 0};
    const sweep_dispatch_ops ops = {send_task, send_stop, &d};
    co->started = co->last_progress = clock_seconds();
    while (d.stopped < n_workers) {
        check_signal(co);
        report_progress(co, 0);
        int flag = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, comm, &flag, &status);
        sync_journal(co, !flag);
        if (!flag) {
            // Sleep instead of spinning: the coordinator shares a node with GPU workers' host threads.
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        sweep_result result;
        MPI_Recv(&result, sizeof result, MPI_BYTE, status.MPI_SOURCE, TAG_RESULT, comm, MPI_STATUS_IGNORE);
        int rank = status.MPI_SOURCE, w = rank - 1;
        co->messages++;
        handle_result(co, w, rank, &result);
        check_signal(co);
        parked[w] = 1;
        sweep_scheduler_serve(&co->scheduler, parked, co->draining, &ops);  // the simulator's code too
    }
    free(parked);
    // Workers serve each other's weight requests until every rank got here.
    MPI_Request all_stopped;
    MPI_Ibarrier(comm, &all_stopped);
    MPI_Wait(&all_stopped, MPI_STATUS_IGNORE);
    sync_journal(co, 1);
    report_progress(co, 1);
    // Coordinator cost per message, CPU time of this process (the figure docs/sweep.md quotes).
    struct rusage use;
    getrusage(RUSAGE_SELF, &use);
    double cpu = (double)use.ru_utime.tv_sec + 1e-6 * (double)use.ru_utime.tv_usec + (double)use.ru_stime.tv_sec +
                 1e-6 * (double)use.ru_stime.tv_usec;
    double elapsed = clock_seconds() - co->started;
    log_info("coordinator: %lld results handled in %.3f s wall, %.3f s CPU (%.1f us CPU per message, %.0f messages/s wall)",
             (long long)co->messages, elapsed, cpu, co->messages ? 1e6 * cpu / (double)co->messages : 0.0,
             elapsed > 0 ? (double)co->messages / elapsed : 0.0);
}

void sweep_coordinator_run_local(sweep_coordinator *co, sweep_worker *worker) {
    co->started = co->last_progress = clock_seconds();
    sweep_task task;
    sweep_result result;
    for (;;) {
        check_signal(co);
        report_progress(co, 0);
        if (!dispatch(co, 0, 0, &task)) break;
        sweep_task_message m = {task.checkpoint, task.prefetch, task.lo, task.hi, -1, 0};
        sweep_worker_run_task(worker, &m, &result);
        handle_result(co, 0, 0, &result);
        sync_journal(co, 0);
    }
    sync_journal(co, 1);
    report_progress(co, 1);
}
