// sweep_run.c — `memprof sweep` from start to exit (see include/memprof/sweep_run.h):
//   1. every rank loads the panel; rank 0 decides fresh start or resume from the journal and
//      refuses what a resume must not change (model, checkpoints, panel, backend, precision,
//      the GPU kernel settings);
//   2. collective create (or open) of stats.h5;
//   3. rank 0 appends RUN (and quarantines shards that crashed too often), then coordinates;
//      ranks ≥ 1 work; with one rank, rank 0 does both in turn;
//   4. collective close; rank 0 appends END; every rank returns the same status.
// The rank layout (coordinator on an extra rank 0) is documented in docs/sweep.md.
#include "memprof/sweep_run.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "memprof/journal.h"
#include "memprof/log.h"
#include "memprof/panel.h"
#include "memprof/stats_parallel.h"
#include "memprof/sweep.h"
#include "sweep/agree.h"
#include "sweep/coordinator.h"
#include "sweep/history.h"
#include "sweep/signals.h"
#include "sweep/worker.h"

enum { MODE_FRESH = 1, MODE_RESUME = 2 };


static uint64_t panel_hash(const panel *p) {
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 0);
    XXH64_update(st, p->tokens, (size_t)(p->rows * p->sequence_length) * sizeof *p->tokens);
    XXH64_update(st, p->seq_idx, (size_t)p->rows * sizeof *p->seq_idx);
    XXH64_update(st, p->split, (size_t)p->rows);
    XXH64_update(st, p->train_step, (size_t)p->rows * sizeof *p->train_step);
    uint64_t h = XXH64_digest(st);
    XXH64_freeState(st);
    return h;
}

// The GPU kernel settings a sweep's statistics depend on, bit for bit (docs/cli.md,
// MEMPROF_LM_HEAD, MEMPROF_ATTENTION, MEMPROF_UP_GEMM, MEMPROF_RESIDUAL_GEMM and
// MEMPROF_STATISTICS_SMS (it picks the LM head GEMM's algorithm); the defaults
// when unset); "-" for the CPU backend.
static const char *kernel_setting(const sweep_config *cfg, const char *variable, const char *unset) {
    if (cfg->backend != SWEEP_BACKEND_CUDA) return "-";
    const char *value = getenv(variable);
    return value && *value ? value : unset;
}

// The HEADER text: what identifies the sweep. Keys compared on resume come first.
static char *identity_text(const sweep_config *cfg, const panel *p) {
    size_t cap = 1024 + strlen(cfg->model_name) + strlen(cfg->checkpoint_template) + strlen(cfg->panel) + 24 * cfg->steps.count;
    char *text = malloc(cap);
    if (!text) return NULL;
    size_t n = (size_t)snprintf(text, cap,
                                "format=memprof-sweep-journal\nversion=1\nmodel=%s\ncheckpoint_template=%s\nsteps=",
                                cfg->model_name, cfg->checkpoint_template);
    for (size_t k = 0; k < cfg->steps.count; k++)
        n += (size_t)snprintf(text + n, cap - n, "%s%lld", k ? "," : "", (long long)cfg->steps.values[k]);
    snprintf(text + n, cap - n,
             "\npanel_hash=xxh64:%016llx\nbackend=%s\nprecision=%s\nper_token=%s\npanel=%s\ninstances=%lld\nsequence_length=%lld\n"
             "checkpoints_count=%zu\nshard_size=%lld\nlm_head=%.64s\nattention=%.64s\nup_gemm=%.64s\n"
             "residual_gemm=%.64s\nstatistics_sms=%.64s\n",
             (unsigned long long)panel_hash(p), sweep_backend_name(cfg->backend), sweep_precision_name(cfg->precision),
             cfg->per_token ? "true" : "false",
             cfg->panel, (long long)p->rows, (long long)p->sequence_length, cfg->steps.count, (long long)cfg->shard_size,
             kernel_setting(cfg, "MEMPROF_LM_HEAD", "auto"), kernel_setting(cfg, "MEMPROF_ATTENTION", "auto"),
             kernel_setting(cfg, "MEMPROF_UP_GEMM", "auto"), kernel_setting(cfg, "MEMPROF_RESIDUAL_GEMM", "auto"),
             kernel_setting(cfg, "MEMPROF_STATISTICS_SMS", "auto"));
    return text;
}

// A resume may change ranks, batch size, shard scheduling and log paths, nothing else.
static int check_identity(const char *journal_text, const char *current, const sweep_config *cfg, memprof_error *err) {
    static const struct { const char *key, *what; } keys[] = {
        {"model", "model.name"}, {"checkpoint_template", "model.checkpoint"}, {"steps", "checkpoints.steps"},
        {"panel_hash", "the panel's contents"}, {"backend", "backend"}, {"precision", "precision"}, {"per_token", "per_token"},
        {"lm_head", "the LM head kernel (MEMPROF_LM_HEAD)"}, {"attention", "the attention kernel (MEMPROF_ATTENTION)"},
        {"up_gemm", "the up GEMM kernel (MEMPROF_UP_GEMM)"},
        {"residual_gemm", "the residual GEMM kernel (MEMPROF_RESIDUAL_GEMM)"},
        {"statistics_sms", "the LM head's SM split (MEMPROF_STATISTICS_SMS)"},
    };
    char changes[768] = "";
    size_t used = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char was[2048], now[2048];
        journal_header_value(was, sizeof was, journal_text, keys[k].key);
        journal_header_value(now, sizeof now, current, keys[k].key);
        if (was[0] == '\0' && (strcmp(keys[k].key, "lm_head") == 0 || strcmp(keys[k].key, "attention") == 0 ||
                                strcmp(keys[k].key, "up_gemm") == 0 || strcmp(keys[k].key, "residual_gemm") == 0 ||
                                strcmp(keys[k].key, "statistics_sms") == 0)) {
            // Journals written before the kernel settings were recorded: nothing to compare.
            log_warn("%s: the journal does not record %s; a resume with another setting mixes its bits", cfg->journal,
                     keys[k].what);
            continue;
        }
        if (strcmp(was, now) != 0 && used < sizeof changes)
            used += (size_t)snprintf(changes + used, sizeof changes - used, "%s%s changed (the journal has '%.80s', the configuration gives '%.80s')",
                                     used ? "; " : "", keys[k].what, was, now);
    }
    if (used)
        return error_set(err, MEMPROF_ERR, "%s: resume refused: %s; restore it, or delete %s and the journal to start over",
                         cfg->journal, changes, cfg->output);
    return MEMPROF_OK;
}

static int file_exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

static void open_rank_log(const sweep_config *cfg, int rank, FILE **out) {
    *out = NULL;
    mkdir(cfg->log_dir, 0755);  // every rank tries; EEXIST is fine
    char path[4200];
    snprintf(path, sizeof path, "%s/rank-%05d.log", cfg->log_dir, rank);
    FILE *f = fopen(path, "a");
    if (!f) return;
    setvbuf(f, NULL, _IOLBF, 0);
    *out = f;
    log_set_stream(f);
    if (log_get_level() > LOG_LEVEL_INFO) log_set_level(LOG_LEVEL_INFO);
    char host[256] = "?";
    gethostname(host, sizeof host);
    log_info("rank %d: pid %ld on %s", rank, (long)getpid(), host);
}

// Node index of every rank (ranks on one host share one), from their host names; returns the
// names, MPI_MAX_PROCESSOR_NAME bytes per rank (caller frees). Test hook:
// MEMPROF_TEST_RANKS_PER_NODE=K splits one host into virtual nodes of K consecutive ranks
// (host/v0, host/v1, …), so the multi-node logic (sources, stripes and NCCL communicators
// only within a node) runs on one machine.
static char *node_of_ranks(int *out, MPI_Comm comm) {
    int size, len, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    MPI_Get_processor_name(name, &len);
    const char *virtual_nodes = getenv("MEMPROF_TEST_RANKS_PER_NODE");
    int per_node = virtual_nodes ? atoi(virtual_nodes) : 0;
    if (per_node > 0) {
        size_t used = strlen(name) < MPI_MAX_PROCESSOR_NAME - 16 ? strlen(name) : MPI_MAX_PROCESSOR_NAME - 16;
        snprintf(name + used, MPI_MAX_PROCESSOR_NAME - used, "/v%d", rank / per_node);
    }
    char *all = calloc((size_t)size, MPI_MAX_PROCESSOR_NAME);
    MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm);
    int nodes = 0;
    for (int r = 0; r < size; r++) {
        out[r] = -1;
        for (int q = 0; q < r && out[r] < 0; q++)
            if (strcmp(all + (size_t)r * MPI_MAX_PROCESSOR_NAME, all + (size_t)q * MPI_MAX_PROCESSOR_NAME) == 0) out[r] = out[q];
        if (out[r] < 0) out[r] = nodes++;
    }
    return all;
}

// Rank 0: reads the journal and decides. Returns MODE_* or an error.
static int decide(const sweep_config *cfg, const char *identity, journal_contents *jc, sweep_history *h,
                  memprof_error *err) {
    int have_output = file_exists(cfg->output), have_journal = file_exists(cfg->journal);
    if (!have_journal) {
        if (have_output)
            return error_set(err, MEMPROF_ERR, "%s exists but its journal %s does not: refusing to overwrite it "
                             "(move it away, or restore the journal)", cfg->output, cfg->journal);
        return MODE_FRESH;
    }
    int rc = journal_read(jc, cfg->journal, err);
    if (!rc && jc->count == 0) return MODE_FRESH;  // empty, or killed while writing its header: nothing journalled
    if (!rc) rc = sweep_history_build(h, jc, cfg->journal, err);
    if (!rc) rc = check_identity(h->header, identity, cfg, err);
    if (rc) return rc;
    if (h->done_records == 0) return MODE_FRESH;  // nothing journalled yet: start over
    if (!have_output)
        return error_set(err, MEMPROF_ERR, "%s: the journal records %lld finished tasks but %s is missing; "
                         "restore it, or delete the journal to start over", cfg->journal, (long long)h->done_records, cfg->output);
    return MODE_RESUME;
}

static void quarantine(sweep_coordinator *co, const sweep_history *h, int crash_limit) {
    const int64_t N = h->n_instances;
    for (int64_t c = 0; c < h->n_checkpoints; c++)
        for (int64_t s = 0; s < h->n_shards; s++) {
            int crashes = h->crashes[c * h->n_shards + s];
            if (crashes < crash_limit) continue;
            int64_t lo = s * h->shard_size, end = lo + h->shard_size < N ? lo + h->shard_size : N;
            for (int64_t i = lo; i < end;) {
                if (h->cell[c * N + i] == HISTORY_DONE || h->cell[c * N + i] == HISTORY_QUARANTINED) { i++; continue; }
                int64_t hi = i;
                while (hi < end && h->cell[c * N + hi] != HISTORY_DONE && h->cell[c * N + hi] != HISTORY_QUARANTINED) hi++;
                char why[128];
                snprintf(why, sizeof why, "quarantined: %d runs died while these cells were in flight", crashes);
                journal_record r = {.type = JOURNAL_FAILED, .checkpoint = (int32_t)c, .lo = i, .hi = hi, .flag = 1, .text = why};
                memprof_error err = {0};
                if (journal_append(co->journal, &r, 1, &err)) log_error("%s", err.message);
                sweep_scheduler_mark(&co->scheduler, (int32_t)c, i, hi, CELL_FAILED);
                co->checkpoint_settled[c] += hi - i;
                log_warn("checkpoint %lld instances [%lld, %lld): %s", (long long)c, (long long)i, (long long)hi, why);
                i = hi;
            }
        }
}

// --share-weights with the CUDA backend: each node's workers build an NCCL communicator for
// device buffers (host buffers travel over MPI). Without one, a worker refuses to send device
// weights in memory and peers use --stage-dir or their own read. Collective over comm.
static void open_nccl(sweep_worker *w, MPI_Comm *node_workers, const sweep_config *cfg, MPI_Comm comm, const int *nodes,
                      int rank) {
    if (strcmp(sweep_backend_name(cfg->backend), "cuda") != 0) return;
    MPI_Comm_split(comm, rank > 0 ? nodes[rank] : MPI_UNDEFINED, rank, node_workers);
    if (rank == 0) return;
    int members = 0;
    MPI_Comm_size(*node_workers, &members);
    if (members < 2) { log_info("weight sharing: the only worker of its node, no NCCL communicator"); return; }
    memprof_error e = {0};
    if (nccl_link_open(&w->nccl, comm, *node_workers, w->options.device, &e))
        log_warn("weight sharing: %s; device weights are not sent in memory", e.message);
    else
        log_info("weight sharing: NCCL communicator of the %d workers of this node (device %d)", members, w->options.device);
}

int sweep_run(sweep_outcome_status *out_status, const sweep_config *cfg, const sweep_options *opt, memprof_error *err) {
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *out_status = SWEEP_COMPLETE;
    sweep_signals_install();
    FILE *log_file = NULL;
    open_rank_log(cfg, rank, &log_file);

    panel p = {0};
    char *identity = NULL, **paths = NULL;
    journal_contents jc = {0};
    sweep_history h = {0};
    stats_writer writer;
    memset(&writer, 0, sizeof writer);
    writer.file = -1;
    sweep_worker worker;
    memset(&worker, 0, sizeof worker);
    journal jr = {.fd = -1};
    sweep_coordinator co;
    memset(&co, 0, sizeof co);
    int *nodes = calloc((size_t)size, sizeof *nodes);
    const int64_t C = (int64_t)cfg->steps.count;

    int rc = nodes ? MEMPROF_OK : error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    if (!rc) rc = panel_read(&p, cfg->panel, err);
    if (!rc && p.sequence_length < 2) rc = error_set(err, MEMPROF_ERR, "%s: sequences of %lld tokens cannot be scored", cfg->panel, (long long)p.sequence_length);
    if (!rc && !(identity = identity_text(cfg, &p))) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    rc = sweep_agree(rc, err, comm);
    char *hosts = NULL;
    if (!rc) hosts = node_of_ranks(nodes, comm);

    // 1. fresh or resume (rank 0 reads the journal).
    int mode = 0;
    if (!rc && rank == 0) {
        int d = decide(cfg, identity, &jc, &h, err);
        if (d < 0) rc = d; else mode = d;
    }
    // The journal exists before the file does: a kill in between leaves a journal without
    // results, which the next run starts over from.
    if (!rc && rank == 0) {
        rc = journal_open(&jr, cfg->journal, mode == MODE_FRESH ? 0 : jc.valid_bytes, err);
        if (!rc && jc.torn_bytes > 0)
            log_warn("%s: dropped a torn tail of %lld bytes after the last good record (those cells are redone)", cfg->journal,
                     (long long)jc.torn_bytes);
        if (!rc && mode == MODE_FRESH) {
            journal_record hdr = {.type = JOURNAL_HEADER, .text = identity};
            rc = journal_append(&jr, &hdr, 1, err);
        }
    }
    rc = sweep_agree(rc, err, comm);
    if (!rc) MPI_Bcast(&mode, 1, MPI_INT, 0, comm);
    // This run's number (its RUN record's position): names the per-token side files.
    long long run_number = mode == MODE_RESUME ? (long long)h.runs + 1 : 1;
    if (!rc) MPI_Bcast(&run_number, 1, MPI_LONG_LONG, 0, comm);

    // 2. the stats file, collectively.
    if (!rc && mode == MODE_FRESH) {
        paths = calloc((size_t)C, sizeof *paths);
        const char **sums = calloc((size_t)C, sizeof *sums);
        for (int64_t c = 0; c < C && paths && sums && !rc; c++) {
            char dir[4096];
            rc = sweep_checkpoint_path(dir, sizeof dir, cfg->checkpoint_template, cfg->steps.values[c], err);
            paths[c] = strdup(dir);
            sums[c] = "";
        }
        if (!paths || !sums) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
        // One line per rank: its role, backend and host (the CPU backend has no device name).
        char devices[16384];
        size_t used = (size_t)snprintf(devices, sizeof devices, "%d rank(s) on %d node(s)\n", size, nodes[size - 1] + 1);
        for (int r = 0; r < size && used < sizeof devices; r++)
            used += (size_t)snprintf(devices + used, sizeof devices - used, "rank %d: %s on %s\n", r,
                                     r == 0 ? (size == 1 ? "coordinator and worker" : "coordinator") : "worker",
                                     hosts + (size_t)r * MPI_MAX_PROCESSOR_NAME);
        if (used >= sizeof devices) memcpy(devices + sizeof devices - 5, "...\n", 5);
        stats_layout L = {.n_instances = p.rows, .n_checkpoints = C, .shard_size = cfg->shard_size,
                          .seq_idx = p.seq_idx, .split = p.split, .train_step = p.train_step, .step = cfg->steps.values,
                          .paths = (const char *const *)paths, .checksums = sums, .model = cfg->model_name,
                          .backend = sweep_backend_name(cfg->backend), .precision = sweep_precision_name(cfg->precision),
                          .config_yaml = opt->config_text ? opt->config_text : "", .config_hash = opt->config_hash ? opt->config_hash : "",
                          .device_names = devices};
        rc = sweep_agree(rc, err, comm);
        if (!rc) rc = sweep_agree(stats_writer_create(&writer, comm, cfg->output, &L, err), err, comm);
        free(sums);
    } else if (!rc) {
        rc = sweep_agree(stats_writer_open(&writer, comm, cfg->output, C, p.rows, err), err, comm);
    }

    // 3. journal (rank 0), scheduler, then the roles.
    if (!rc && rank == 0) {
        journal_record run = {.type = JOURNAL_RUN, .rank = size, .time = (int64_t)time(NULL)};
        if (!rc) rc = journal_append(&jr, &run, 1, err);
        int n_workers = size > 1 ? size - 1 : 1;
        int *worker_node = calloc((size_t)n_workers, sizeof *worker_node);
        for (int w = 0; w < n_workers && worker_node; w++) worker_node[w] = size > 1 ? nodes[w + 1] : 0;
        if (!rc && !worker_node) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
        if (!rc) rc = sweep_scheduler_init(&co.scheduler, C, p.rows, writer.shard_size, n_workers, worker_node, err);
        free(worker_node);
        co.checkpoint_settled = calloc((size_t)C, sizeof *co.checkpoint_settled);
        co.worker_loaded = malloc((size_t)n_workers * sizeof *co.worker_loaded);
        for (int w = 0; w < n_workers && co.worker_loaded; w++) co.worker_loaded[w] = -1;
        co.share_weights = (opt->stage_dir != NULL || opt->share_weights) && size > 1;
        co.scheduler.prefetch_hints = opt->prefetch_lead_s > 0;
        co.scheduler.prefetch_lead_s = opt->prefetch_lead_s;
        co.scheduler.prefetch_private = true;  // each CPU worker loads its own hinted checkpoint
        co.checksum_recorded = calloc((size_t)C, 1);
        if (!rc && (!co.checkpoint_settled || !co.checksum_recorded || !co.worker_loaded)) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
        co.journal = &jr; co.writer = &writer; co.options = opt; co.sequence_length = p.sequence_length;
        if (!rc && mode == MODE_RESUME) {
            if (cfg->shard_size != writer.shard_size)
                log_info("shard_size %lld in the configuration; resuming with the file's %lld", (long long)cfg->shard_size,
                         (long long)writer.shard_size);
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < p.rows; i++) {
                    uint8_t st = h.cell[c * p.rows + i];
                    if (st == HISTORY_DONE) { sweep_scheduler_mark(&co.scheduler, (int32_t)c, i, i + 1, CELL_DONE); co.cells_at_start++; }
                    if (st == HISTORY_QUARANTINED) sweep_scheduler_mark(&co.scheduler, (int32_t)c, i, i + 1, CELL_FAILED);
                    if (st == HISTORY_DONE || st == HISTORY_QUARANTINED) co.checkpoint_settled[c]++;
                }
            log_info("resume: %lld cells done, %lld failed before (retried), %lld quarantined, %lld in flight when the last run stopped",
                     (long long)h.count[HISTORY_DONE], (long long)h.count[HISTORY_FAILED], (long long)h.count[HISTORY_QUARANTINED],
                     (long long)h.in_flight_cells);
            quarantine(&co, &h, opt->crash_limit > 0 ? opt->crash_limit : 3);
        }
    }
    if (!rc || writer.file >= 0) rc = sweep_agree(rc, err, comm);
    if (!rc && rank > 0)
        rc = sweep_worker_init(&worker, cfg, &p, &writer, comm, opt->stage_dir, opt->share_weights && size > 1,
                               sweep_worker_device(nodes, rank), err);
    if (!rc && rank > 0) rc = sweep_worker_set_node_peers(&worker, nodes, size, rank, err);
    worker.stripe_enabled = !opt->no_stripe;
    worker.prefetch_enabled = opt->prefetch_lead_s > 0;
    MPI_Comm node_workers = MPI_COMM_NULL;
    if (!rc && rank == 0 && size == 1) rc = sweep_worker_init(&worker, cfg, &p, &writer, MPI_COMM_NULL, NULL, 0, 0, err);
    if (!rc && cfg->per_token && (rank > 0 || size == 1)) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s.tokens", cfg->output);
        rc = sweep_worker_open_tokens(&worker, dir, run_number, rank, err);
    }
    if (writer.file >= 0) rc = sweep_agree(rc, err, comm);

    if (!rc && opt->share_weights && size > 1) open_nccl(&worker, &node_workers, cfg, comm, nodes, rank);

    int status = SWEEP_COMPLETE;
    if (!rc) {
        if (rank == 0 && size == 1) sweep_coordinator_run_local(&co, &worker);
        else if (rank == 0) sweep_coordinator_loop(&co, comm);
        else sweep_worker_loop(&worker, comm);
        if (rank == 0) {
            int64_t counts[4];
            sweep_scheduler_counts(&co.scheduler, counts);
            status = co.draining ? SWEEP_DRAINED : counts[CELL_FAILED] > 0 ? SWEEP_FAILURES : SWEEP_COMPLETE;
            if (co.journal_failed) { rc = MEMPROF_ERR; *err = co.journal_error; }
        }
    }

    // 4. close collectively (also after an error, once the file was open on every rank).
    nccl_link_close(worker.nccl);
    worker.nccl = NULL;
    if (node_workers != MPI_COMM_NULL) MPI_Comm_free(&node_workers);
    sweep_worker_free(&worker);
    if (writer.file >= 0) {
        int crc = stats_writer_close(&writer, rc ? NULL : err);
        if (!rc) rc = crc;
    }
    if (rank == 0 && jr.fd >= 0) {
        if (!rc) {
            journal_record end = {.type = JOURNAL_END, .flag = (uint8_t)(status == SWEEP_DRAINED ? JOURNAL_END_DRAINED
                                                                : status == SWEEP_FAILURES ? JOURNAL_END_FAILURES : JOURNAL_END_COMPLETE)};
            rc = journal_append(&jr, &end, 1, err);
        }
        journal_close(&jr);
    }
    rc = sweep_agree(rc, err, comm);
    MPI_Bcast(&status, 1, MPI_INT, 0, comm);
    *out_status = (sweep_outcome_status)status;
    log_info("exit: %s", rc ? err->message : status == SWEEP_COMPLETE ? "complete" : status == SWEEP_DRAINED ? "drained" : "finished with failures");

    sweep_scheduler_free(&co.scheduler);
    free(co.checkpoint_settled); free(co.checksum_recorded); free(co.worker_loaded);
    for (int64_t c = 0; paths && c < C; c++) free(paths[c]);
    free(paths); free(identity); free(nodes); free(hosts);
    sweep_history_free(&h);
    journal_contents_free(&jc);
    panel_free(&p);
    if (log_file) { log_set_stream(NULL); fclose(log_file); }
    return rc;
}
