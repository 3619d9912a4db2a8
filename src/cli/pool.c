// The process pool of batch, eval and scan (cli/pool.h).
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef LRP_MPI
#include <mpi.h>
#endif

#include "cli/args.h"
#include "cli/pool.h"
#include "kernels/gemm.h"

// ---- the processes ----

void cli_par_init(cli_par *p) {
    memset(p, 0, sizeof *p);
    p->size = 1;
#ifdef LRP_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p->size);
    p->mpi = p->size > 1;
    if (p->rank > 0) cli_error_capture(p->quiet, sizeof p->quiet);   // rank 0 reports the arguments' errors
#endif
}

void cli_par_quiet_end(cli_par *p) {
    (void)p;
    cli_error_capture(NULL, 0);
}

void cli_par_finish(void) {
#ifdef LRP_MPI
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
#endif
}

int cli_par_all(const cli_par *p, int ok) {
#ifdef LRP_MPI
    if (p->mpi) {
        int all = ok;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        if (p->rank == 0 && ok && !all)   // the ranks' own errors may be silenced (cli_par_init)
            cli_error(1, "another MPI rank could not start (is the model or the data readable on its node?)");
        return all;
    }
#endif
    (void)p;
    return ok;
}

void cli_par_abort(const cli_par *p) {
#ifdef LRP_MPI
    if (p->mpi) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    (void)p;
}

int cli_par_check_jobs(const cli_par *p, int jobs) {
    if (p->mpi && jobs > 1) {
        if (p->rank == 0) cli_error(2, "--jobs: under MPI every rank is one worker (give -np to mpirun instead)");
        return 2;
    }
    return 0;
}

int cli_par_divide_threads(const cli_par *p, int jobs) {
    int threads = lrp_blas_threads(), local = jobs;
#ifdef LRP_MPI
    if (p->mpi) {
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
#endif
    (void)p;
    int each = threads / local > 1 ? threads / local : 1;
    lrp_blas_set_threads(each);
    return each;
}

int cli_jobs_parse(const char *flag, const char *v, int *jobs) {
    if (arg_int(flag, v, jobs)) return 2;
    if (*jobs < 1 || *jobs > 1024) return cli_error(2, "%s %d: must lie in 1..1024", flag, *jobs);
    return 0;
}

// ---- messages: a task is its sequence number and the command's bytes; a result likewise ----

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k, n -= (size_t)k;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n) {
    char *c = p;
    while (n > 0) {
        ssize_t k = read(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k, n -= (size_t)k;
    }
    return 0;
}

// A framed message on a socket: its length, then its bytes. *buf is malloc'ed by msg_recv_fd.
static int msg_send_fd(int fd, const void *buf, size_t n) {
    uint64_t len = n;
    return write_all(fd, &len, sizeof len) || write_all(fd, buf, n) ? -1 : 0;
}

static int msg_recv_fd(int fd, char **buf, size_t *n) {
    uint64_t len;
    if (read_all(fd, &len, sizeof len) || len > ((uint64_t)1 << 40)) return -1;
    if (!(*buf = malloc(len + 1))) return -1;
    if (read_all(fd, *buf, len)) return free(*buf), *buf = NULL, -1;
    (*buf)[len] = '\0';
    *n = len;
    return 0;
}

// Prefixes body with seq (malloc'ed; NULL out of memory).
static char *framed(int64_t seq, const char *body, size_t n, size_t *out_n) {
    char *m = malloc(sizeof seq + n + 1);
    if (!m) return NULL;
    memcpy(m, &seq, sizeof seq);
    if (n) memcpy(m + sizeof seq, body, n);
    m[sizeof seq + n] = '\0';
    *out_n = sizeof seq + n;
    return m;
}

// Runs a framed task; the framed result (NULL: out of memory).
static char *run_framed(const cli_pool_ops *ops, const char *m, size_t n, size_t *rn) {
    int64_t seq;
    if (n < sizeof seq) return NULL;
    memcpy(&seq, m, sizeof seq);
    size_t bn = 0;
    char *body = ops->run(ops->work, m + sizeof seq, n - sizeof seq, &bn);
    if (!body) return NULL;
    char *r = framed(seq, body, bn, rn);
    free(body);
    return r;
}

#ifdef LRP_MPI
// MPI_Probe without its busy wait: OpenMPI spins a core while it blocks, which on a machine with as many
// ranks as cores takes the time of the rank that works. Probes with sleeps growing from 20 us to 1 ms.
static void mpi_wait(int source, int tag, MPI_Status *st) {
    long ns = 20000;
    for (;;) {
        int flag = 0;
        MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, st);
        if (flag) return;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 1000000) ns *= 2;
    }
}

// A send's completion, with the same growing sleeps.
static int mpi_complete(MPI_Request *req) {
    long ns = 20000;
    for (;;) {
        int flag = 0;
        if (MPI_Test(req, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
        if (flag) return 0;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 1000000) ns *= 2;
    }
}

// MPI_Send likewise: a message over the eager limit waits for its receive, spinning in MPI_Send.
static int mpi_send(const void *buf, size_t n, int dest, int tag) {
    MPI_Request req;
    if (MPI_Isend(buf, (int)n, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &req) != MPI_SUCCESS) return -1;
    return mpi_complete(&req);
}

#endif

// ---- rank 0 ----

// Tasks handed to one worker and not yet returned. An MPI worker's results wait in its sends until rank 0,
// between tasks of its own, receives them: with 4 in flight it has work for about four of rank 0's tasks.
#define MAX_INFLIGHT 4

typedef struct {
    int ready;
    char *res;
    size_t n;
} slot;

typedef struct {
    const cli_pool_ops *ops;
    int n_workers, mpi, eof, failed;
    int *fd;
    pid_t *pid;
    int *inflight;
    slot *slots;
    long window, seq_next, seq_write;
} pool;

static int send_task(pool *p, int w, const char *m, size_t n) {
#ifdef LRP_MPI
    if (p->mpi) return mpi_send(m, n, w + 1, 1);
#endif
    return msg_send_fd(p->fd[w], m, n);
}

// A framed result into its slot (the slot keeps m).
static int take_result(pool *p, char *m, size_t n) {
    int64_t seq;
    if (n < sizeof seq) return free(m), -1;
    memcpy(&seq, m, sizeof seq);
    if (seq < p->seq_write || seq >= p->seq_next) return free(m), -1;
    slot *s = &p->slots[seq % p->window];
    s->ready = 1;
    s->res = m;
    s->n = n;
    return 0;
}

// Gives the results that are next in task order to the command.
static void take_ready(pool *p) {
    while (!p->failed && p->seq_write < p->seq_next && p->slots[p->seq_write % p->window].ready) {
        slot *s = &p->slots[p->seq_write % p->window];
        int r = p->ops->take(p->ops->ctx, s->res + sizeof(int64_t), s->n - sizeof(int64_t));
        if (r) p->failed = r;
        free(s->res);
        memset(s, 0, sizeof *s);
        p->seq_write++;
    }
}

// Receives one result from any worker (waits when block); 1 received, 0 none waiting, -1 a worker is gone.
static int recv_result(pool *p, int block) {
    char *m = NULL;
    size_t n = 0;
    int w = -1;
#ifdef LRP_MPI
    if (p->mpi) {
        MPI_Status st;
        int flag = 1, count;
        if (block) mpi_wait(MPI_ANY_SOURCE, 2, &st);
        else MPI_Iprobe(MPI_ANY_SOURCE, 2, MPI_COMM_WORLD, &flag, &st);
        if (!flag) return 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (!(m = malloc((size_t)count + 1))) return -1;
        MPI_Recv(m, count, MPI_BYTE, st.MPI_SOURCE, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        n = (size_t)count;
        w = st.MPI_SOURCE - 1;
    }
#endif
    if (!p->mpi) {
        struct pollfd fds[1024];
        for (int i = 0; i < p->n_workers; i++) fds[i] = (struct pollfd){p->fd[i], POLLIN, 0};
        int k = poll(fds, (nfds_t)p->n_workers, block ? -1 : 0);
        if (k < 0 && errno == EINTR) return 0;
        if (k <= 0) return k < 0 ? -1 : 0;
        for (int i = 0; i < p->n_workers && w < 0; i++)
            if (fds[i].revents) w = i;
        if (msg_recv_fd(p->fd[w], &m, &n)) {
            cli_error(1, "%s: worker process %d ended unexpectedly", p->ops->name, (int)p->pid[w]);
            return -1;
        }
    }
    p->inflight[w]--;
    if (take_result(p, m, n)) {
        cli_error(1, "%s: a worker's result could not be read (out of memory?)", p->ops->name);
        return -1;
    }
    return 1;
}

// The next task, framed: 1, 0 at the end, -1 an error (printed).
static int next_task(pool *p, char **m, size_t *n) {
    char *body = NULL;
    size_t bn = 0;
    int r = p->ops->next(p->ops->ctx, &body, &bn);
    if (r <= 0) {
        p->eof = 1;
        return r;
    }
    *m = framed(p->seq_next, body, bn, n);
    free(body);
    if (!*m) return cli_error(1, "out of memory"), -1;
    return 1;
}

// The dispatch loop of rank 0. Returns 0 when every task was handled.
static int run_pool(pool *p) {
    for (;;) {
        // hand tasks out: each worker keeps MAX_INFLIGHT, within the window
        for (int w = 0; w < p->n_workers && !p->failed; w++)
            while (p->inflight[w] < MAX_INFLIGHT && !p->eof && p->seq_next - p->seq_write < p->window) {
                char *m = NULL;
                size_t n;
                int r = next_task(p, &m, &n);
                if (r < 0) p->failed = 2;
                if (r <= 0) break;
                if (send_task(p, w, m, n)) {
                    cli_error(1, "%s: cannot hand a %s to worker %d", p->ops->name, p->ops->unit, w + 1);
                    p->failed = 2;
                }
                free(m);
                p->seq_next++;
                p->inflight[w]++;
            }
        take_ready(p);
        if (p->failed || (p->eof && p->seq_write == p->seq_next)) break;
        int can_work = !p->eof && p->seq_next - p->seq_write < p->window;
        if (p->n_workers > 0) {
            int r = recv_result(p, !can_work);
            if (r < 0) {
                p->failed = 2;
                break;
            }
            if (r > 0) continue;
        }
        if (can_work) {   // nothing to collect: run the next task here
            char *m = NULL, *res;
            size_t n, rn;
            int r = next_task(p, &m, &n);
            if (r < 0) {
                p->failed = 2;
                break;
            }
            if (r == 0) continue;
            p->seq_next++;
            res = run_framed(p->ops, m, n, &rn);
            free(m);
            if (!res || take_result(p, res, rn)) {
                cli_error(1, "out of memory");
                p->failed = 2;
                break;
            }
        }
    }
    return p->failed;
}

// A forked worker: tasks from fd until it closes.
static void worker_loop_fd(const cli_pool_ops *ops, int fd) {
    char *m;
    size_t n;
    while (msg_recv_fd(fd, &m, &n) == 0) {
        size_t rn;
        char *res = run_framed(ops, m, n, &rn);
        free(m);
        if (!res || msg_send_fd(fd, res, rn)) {
            free(res);
            _exit(1);
        }
        free(res);
    }
    _exit(0);
}

// Starts the worker processes, each with its socket; 0, or -1 (error printed).
static int fork_workers(pool *p, int threads_each) {
    fflush(NULL);   // nothing buffered may be written twice
    for (int w = 0; w < p->n_workers; w++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
            p->n_workers = w;   // stop_workers ends the ones started
            return cli_error(1, "%s: socketpair: %s", p->ops->name, strerror(errno)), -1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            close(sv[0]), close(sv[1]);
            p->n_workers = w;
            return cli_error(1, "%s: fork: %s", p->ops->name, strerror(errno)), -1;
        }
        if (pid == 0) {
            close(sv[0]);
            for (int k = 0; k < w; k++) close(p->fd[k]);
            if (p->ops->close_in_worker >= 0) close(p->ops->close_in_worker);
            signal(SIGPIPE, SIG_DFL);
            lrp_blas_set_threads(threads_each);
            worker_loop_fd(p->ops, sv[1]);
        }
        close(sv[1]);
        p->fd[w] = sv[0];
        p->pid[w] = pid;
    }
    return 0;
}

static double ru_seconds(const struct rusage *ru) {
    return (double)ru->ru_utime.tv_sec + 1e-6 * (double)ru->ru_utime.tv_usec + (double)ru->ru_stime.tv_sec +
           1e-6 * (double)ru->ru_stime.tv_usec;
}

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru_seconds(&ru);
}

static void stop_workers(pool *p, double *cpu) {
    for (int w = 0; w < p->n_workers; w++) {
#ifdef LRP_MPI
        if (p->mpi) {
            MPI_Send(NULL, 0, MPI_BYTE, w + 1, 3, MPI_COMM_WORLD);
            continue;
        }
#endif
        if (p->failed && p->pid[w] > 0) kill(p->pid[w], SIGTERM);   // stop at once: their tasks are not wanted
        close(p->fd[w]);
    }
    if (p->mpi) {   // results still in flight after a failure: receive and drop them
#ifdef LRP_MPI
        for (int w = 0; w < p->n_workers; w++)
            while (p->inflight[w] > 0) {
                MPI_Status st;
                int count;
                mpi_wait(w + 1, 2, &st);
                MPI_Get_count(&st, MPI_BYTE, &count);
                char *m = malloc((size_t)count + 1);
                if (!m) break;
                MPI_Recv(m, count, MPI_BYTE, w + 1, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                free(m);
                p->inflight[w]--;
            }
#endif
        return;
    }
    for (int w = 0; w < p->n_workers; w++) {
        int st;
        struct rusage ru = {0};
        while (wait4(p->pid[w], &st, 0, &ru) < 0 && errno == EINTR) {}
        if (cpu) cpu[w + 1] = ru_seconds(&ru);
    }
}

int cli_pool_run(const cli_pool_ops *ops, const cli_par *par, int jobs, int threads_each, double **cpu,
                 int *n_procs) {
    pool p = {.ops = ops, .mpi = par->mpi};
    p.n_workers = par->mpi ? par->size - 1 : jobs - 1;
    p.window = (long)MAX_INFLIGHT * (p.n_workers + 1) + 4;
    *n_procs = p.n_workers + 1;
    p.slots = calloc((size_t)p.window, sizeof *p.slots);
    p.fd = calloc((size_t)p.n_workers + 1, sizeof *p.fd);
    p.pid = calloc((size_t)p.n_workers + 1, sizeof *p.pid);
    p.inflight = calloc((size_t)p.n_workers + 1, sizeof *p.inflight);
    *cpu = calloc((size_t)p.n_workers + 1, sizeof **cpu);
    if (!p.slots || !p.fd || !p.pid || !p.inflight || !*cpu) {
        cli_error(1, "out of memory");
        cli_par_abort(par);   // the workers wait for tasks that will not come
        p.n_workers = 0;
        p.failed = 2;
    }
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);   // a dead worker is an error, not our end
    if (!p.failed && !p.mpi && p.n_workers > 0 && fork_workers(&p, threads_each)) p.failed = 2;
    if (!p.failed) run_pool(&p);
    stop_workers(&p, *cpu);
    signal(SIGPIPE, old_pipe);
    if (*cpu) {
        (*cpu)[0] = cpu_self();
#ifdef LRP_MPI
        if (p.mpi) MPI_Gather(MPI_IN_PLACE, 1, MPI_DOUBLE, *cpu, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
#endif
    }
    for (long k = 0; p.slots && k < p.window; k++) free(p.slots[k].res);
    free(p.slots);
    free(p.fd);
    free(p.pid);
    free(p.inflight);
    return p.failed;
}

void cli_pool_serve(const cli_pool_ops *ops, const cli_par *par) {
    (void)ops;
    (void)par;
#ifdef LRP_MPI
    // A result over MPI's eager limit (a few KiB: an eval record's) is only taken when rank 0 receives it,
    // and rank 0 explains tasks of its own in between: so results go out with MPI_Isend and stay pending
    // (up to MAX_INFLIGHT, the oldest completed first when all are) while this rank works on its next
    // tasks. (Waiting for each send made the two ranks of a 2-core machine take turns: 1.2x instead of
    // 1.9x for eval.)
    MPI_Request pending[MAX_INFLIGHT];
    char *pending_res[MAX_INFLIGHT] = {0};
    int oldest = 0, n_pending = 0;
    for (int k = 0; k < MAX_INFLIGHT; k++) pending[k] = MPI_REQUEST_NULL;
    for (;;) {
        MPI_Status st;
        int count;
        mpi_wait(0, MPI_ANY_TAG, &st);
        MPI_Get_count(&st, MPI_BYTE, &count);
        char *m = malloc((size_t)count + 1);
        if (!m) MPI_Abort(MPI_COMM_WORLD, 1);
        MPI_Recv(m, count, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (st.MPI_TAG != 1) {   // stop
            free(m);
            break;
        }
        size_t rn;
        char *res = run_framed(ops, m, (size_t)count, &rn);
        free(m);
        if (!res) MPI_Abort(MPI_COMM_WORLD, 1);
        if (n_pending == MAX_INFLIGHT) {   // every slot busy: the oldest send must end first
            if (mpi_complete(&pending[oldest])) MPI_Abort(MPI_COMM_WORLD, 1);
            free(pending_res[oldest]);
            pending_res[oldest] = NULL;
            oldest = (oldest + 1) % MAX_INFLIGHT;
            n_pending--;
        }
        int k = (oldest + n_pending) % MAX_INFLIGHT;
        pending_res[k] = res;
        if (MPI_Isend(res, (int)rn, MPI_BYTE, 0, 2, MPI_COMM_WORLD, &pending[k]) != MPI_SUCCESS)
            MPI_Abort(MPI_COMM_WORLD, 1);
        n_pending++;
    }
    for (; n_pending > 0; n_pending--, oldest = (oldest + 1) % MAX_INFLIGHT) {
        if (mpi_complete(&pending[oldest])) MPI_Abort(MPI_COMM_WORLD, 1);
        free(pending_res[oldest]);
    }
    double mine = cpu_self();   // to rank 0's summary line
    MPI_Gather(&mine, 1, MPI_DOUBLE, NULL, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
#endif
}
