#!/usr/bin/env bash
# Throughput of `attnlrp batch` (issue 18): records/s with 1 and 2 worker processes (--jobs) and with 2
# MPI ranks (build/attnlrp-mpi), one BLAS thread per worker, on the shipped default model and the
# records of data/eval.jsonl (repeated with fresh ids to BATCH_RECORDS). Wall time and CPU time (user +
# system of every process of the run) per configuration, medians over BATCH_ROUNDS rounds that alternate the
# configurations; the ratios to one process are what to read on a shared machine. Each process reports its CPU
# time (batch --progress), so the speed-up with a core per process is measured even when other jobs take
# the cores.
#
#     bench/batch.sh                              # 1200 records, 3 rounds
#     BATCH_RECORDS=4000 BATCH_ROUNDS=5 bench/batch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 build/attnlrp
MPI=0
if command -v mpicc > /dev/null && command -v mpirun > /dev/null; then make -s mpi && MPI=1; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
/usr/bin/python3 - "${BATCH_RECORDS:-1200}" "${BATCH_ROUNDS:-3}" "$MPI" <<'PY'
import json, os, resource, statistics, subprocess, sys, tempfile, time
n, rounds, mpi = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
src = [json.loads(l) for l in open("data/eval.jsonl") if l.strip()]
tmp = tempfile.mkdtemp()
data = os.path.join(tmp, "in.jsonl")
with open(data, "w") as f:
    for i in range(n):
        r = dict(src[i % len(src)]); r["id"] = i
        f.write(json.dumps(r) + "\n")
env = dict(os.environ)
configs = [("1 process", ["build/attnlrp", "batch"], "1"),
           ("--jobs 2", ["build/attnlrp", "batch", "--jobs", "2"], "2")]
if mpi:
    configs.append(("MPI 2 ranks", ["mpirun", "--oversubscribe", "-np", "2", "build/attnlrp-mpi", "batch"], "1"))
res = {c[0]: [] for c in configs}
ref = None
for r in range(rounds):
    for name, cmd, threads in configs:
        out = os.path.join(tmp, "out.jsonl")
        if os.path.exists(out): os.remove(out)
        env["OPENBLAS_NUM_THREADS"] = threads   # --jobs 2 divides 2 threads into 1 per worker
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.monotonic()
        run = subprocess.run(cmd + ["--data", data, "-o", out, "--drop", "seconds", "--progress"], env=env, check=True,
                             stderr=subprocess.PIPE, text=True)
        per = [float(x) for l in run.stderr.splitlines() if "CPU seconds per process:" in l for x in l.split(":")[-1].split()]
        wall = time.monotonic() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        body = open(out).read()
        if ref is None: ref = body
        assert body == ref, f"{name}: output differs from the first run's"
        res[name].append((wall, cpu, max(per)))
print(f"{n} records (default model, {sum(len(json.loads(l)['explanation']['ids']) for l in ref.splitlines()[1:]) / n:.1f} tokens each), {rounds} rounds; every output byte-identical")
print("| configuration | wall s (median) | records/s | speed-up (wall) | CPU s, all processes | CPU ms/record | busiest process, CPU s | speed-up with a core each |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
med = lambda name, k: statistics.median(r[k] for r in res[name])
base_w, base_c = med(configs[0][0], 0), med(configs[0][0], 2)
for name, _, _ in configs:
    w, c, m = med(name, 0), med(name, 1), med(name, 2)
    print(f"| {name} | {w:.2f} | {n / w:.0f} | {base_w / w:.2f} | {c:.2f} | {1000 * c / n:.2f} | {m:.2f} | {base_c / m:.2f} |")
print("(speed-up with a core each: CPU time of the one-process run / CPU time of the busiest process of this one:")
print(" what the run takes when every process has a core to itself, if the records split as they did here; MPI's\n busiest process, rank 0, includes MPI_Init)")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
