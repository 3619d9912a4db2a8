#!/usr/bin/env bash
# Throughput of `attnlrp eval` across processes (issue 18 item 4): records/s with 1 and 2 processes
# (--jobs) and with 2 MPI ranks (build/attnlrp-mpi), one BLAS thread per process, on the shipped default
# model and the first EVAL_RECORDS records of data/eval.jsonl (the default methods, 20 steps). Wall and CPU
# time (user + system of every process of the run) per configuration, medians over EVAL_ROUNDS rounds that
# alternate the configurations; each run's report is checked equal to the first one's (timings aside).
# Read the ratios: on a shared machine the wall times depend on the other jobs (the load is printed).
#
#     bench/eval_jobs.sh                          # 200 records, 3 rounds
#     EVAL_RECORDS=600 EVAL_ROUNDS=5 bench/eval_jobs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 build/attnlrp
MPI=0
if command -v mpicc > /dev/null && command -v mpirun > /dev/null; then make -s mpi && MPI=1; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
/usr/bin/python3 - "${EVAL_RECORDS:-200}" "${EVAL_ROUNDS:-3}" "$MPI" <<'PY'
import json, os, resource, statistics, subprocess, sys, tempfile, time
n, rounds, mpi = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
tmp = tempfile.mkdtemp()
configs = [("1 process", ["build/attnlrp", "eval"], "1", 1),
           ("--jobs 2", ["build/attnlrp", "eval", "--jobs", "2"], "2", 2)]
if mpi:
    configs.append(("MPI 2 ranks", ["mpirun", "--oversubscribe", "-np", "2", "build/attnlrp-mpi", "eval"], "2", 2))
def strip(d):
    for m in d["methods"]: m.pop("seconds_per_record"); m.pop("forward_multiple")
    for r in d["records"]:
        r.pop("forward_seconds")
        for m in r["methods"].values(): m.pop("seconds")
    return d
res = {c[0]: [] for c in configs}
ref = None
env = dict(os.environ)
for r in range(rounds):
    for name, cmd, threads, procs in configs:
        out = os.path.join(tmp, "out.json")
        env["OPENBLAS_NUM_THREADS"] = threads   # --jobs 2 and 2 ranks divide 2 threads into 1 each
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.monotonic()
        subprocess.run(cmd + ["--data", "data/eval.jsonl", "--limit", str(n), "--format", "json", "-o", out],
                       env=env, check=True, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rep = strip(json.load(open(out)))
        if ref is None: ref = rep
        assert rep == ref, f"{name}: the report differs from the first run's"
        res[name].append((wall, cpu))
print(f"eval, default model, {n} records of data/eval.jsonl, default methods, {rounds} rounds; every report equal (timings aside)")
print("| configuration | wall s (median) | records/s | speed-up (wall) | CPU s, all processes | CPU ms/record | balanced speed-up, a core each |")
print("| --- | --- | --- | --- | --- | --- | --- |")
med = lambda name, k: statistics.median(x[k] for x in res[name])
bw, bc = med(configs[0][0], 0), med(configs[0][0], 1)
for name, _, _, procs in configs:
    w, c = med(name, 0), med(name, 1)
    print(f"| {name} | {w:.2f} | {n / w:.3g} | {bw / w:.2f} | {c:.2f} | {1000 * c / n:.2f} | {procs * bc / c:.2f} |")
print("(balanced speed-up = processes x CPU time of one process / CPU time of all processes of the run: what")
print(" the run takes with a core per process; MPI's CPU time includes mpirun and MPI_Init)")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
