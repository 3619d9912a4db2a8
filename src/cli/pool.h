// Spreading independent tasks over processes, for batch, eval and scan: rank 0 hands tasks out to
// --jobs N-1 forked workers or (the attnlrp-mpi build, -DLRP_MPI on pool.c only) to the other ranks of an
// MPI job, works on tasks itself while it waits, and receives the results in task order. Tasks and
// results are opaque byte strings; the command says how to make, run and take them. Each worker has at
// most four tasks in flight and results wait in a window of a few tasks per worker, so memory stays
// bounded whatever the input's size.
#ifndef LRP_CLI_POOL_H
#define LRP_CLI_POOL_H

#include <stddef.h>

// The processes of the run: rank 0 of size (1 without MPI). cli_par_init starts MPI in the MPI build and
// silences the argument errors of ranks > 0 (rank 0 reports them; cli_par_quiet_end ends that).
typedef struct cli_par {
    int rank, size, mpi;   // mpi: more than one rank
    char quiet[1024];
} cli_par;
void cli_par_init(cli_par *p);
void cli_par_quiet_end(cli_par *p);
void cli_par_finish(void);              // MPI_Finalize (nothing without MPI)
// ok on every rank (MPI: the minimum; rank 0 says so in one line when only other ranks failed), else ok
int cli_par_all(const cli_par *p, int ok);
void cli_par_abort(const cli_par *p);   // MPI_Abort when under MPI
// --jobs N with MPI: one line, status 2 (every rank is one worker); 0 when the combination is fine.
int cli_par_check_jobs(const cli_par *p, int jobs);
// The BLAS threads of this machine divided among its processes (jobs forked, or the MPI ranks on this
// node); sets them for this process and returns the count each process gets.
int cli_par_divide_threads(const cli_par *p, int jobs);

typedef struct cli_pool_ops {
    // rank 0: the next task (malloc'ed bytes) -> 1, 0 at the end, -1 an error (printed)
    int (*next)(void *ctx, char **task, size_t *n);
    // any process: runs a task; the result (malloc'ed bytes; NULL: out of memory)
    char *(*run)(void *work, const char *task, size_t n, size_t *rn);
    // rank 0, in task order: takes a result; 0 goes on, else the run stops (1 or 2, returned by run)
    int (*take)(void *ctx, const char *res, size_t n);
    void *ctx, *work;
    int close_in_worker;   // a descriptor forked workers close (-1: none), e.g. a locked output
    const char *name;      // the command, for error lines ("batch")
    const char *unit;      // what a task is, for error lines ("record")
} cli_pool_ops;

// Rank 0: runs every task over jobs processes (forked: jobs-1 workers with threads_each BLAS threads),
// or over the ranks of par. Returns 0, or the failure (1 or 2) that stopped it. *cpu (malloc'ed, *n_procs
// entries, this process first): the CPU seconds of each process, gathered from the MPI ranks.
int cli_pool_run(const cli_pool_ops *ops, const cli_par *par, int jobs, int threads_each, double **cpu,
                 int *n_procs);
// Ranks > 0 under MPI: runs the tasks rank 0 sends until it stops them, then reports the CPU seconds.
void cli_pool_serve(const cli_pool_ops *ops, const cli_par *par);

// "--jobs N": 1..1024; 0, or an exit status after the error line.
int cli_jobs_parse(const char *flag, const char *v, int *jobs);

#endif
