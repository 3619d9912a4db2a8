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
#     BATCH_MODEL=DIR BATCH_T=128 BATCH_RECORDS=60 bench/batch.sh   # a bigger checkpoint (e.g. written by
#                                  bench/make_bench_model.py DIR --layers 4), records of BATCH_T random ids
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 build/attnlrp
MPI=0
if command -v mpicc > /dev/null && command -v mpirun > /dev/null; then make -s mpi && MPI=1; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
/usr/bin/python3 - "${BATCH_RECORDS:-1200}" "${BATCH_ROUNDS:-3}" "$MPI" "${BATCH_MODEL:-}" "${BATCH_T:-128}" <<'PY'
import json, os, random, resource, statistics, subprocess, sys, tempfile, time
n, rounds, mpi, model, T = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
src = [json.loads(l) for l in open("data/eval.jsonl") if l.strip()]
tmp = tempfile.mkdtemp()
data = os.path.join(tmp, "in.jsonl")
rng = random.Random(0)
vocab = json.load(open(os.path.join(model, "config.json")))["vocab_size"] if model else 0
with open(data, "w") as f:
    for i in range(n):
        r = {"ids": [rng.randrange(vocab) for _ in range(T)]} if model else dict(src[i % len(src)])
        r["id"] = i
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
        run = subprocess.run(cmd + (["--model", model] if model else []) + ["--data", data, "-o", out, "--drop", "seconds", "--progress"], env=env, check=True,
                             stderr=subprocess.PIPE, text=True)
        per = [float(x) for l in run.stderr.splitlines() if "CPU seconds per process:" in l for x in l.split(":")[-1].split()]
        wall = time.monotonic() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        body = open(out).read()
        if ref is None: ref = body
        assert body == ref, f"{name}: output differs from the first run's"
        res[name].append((wall, cpu, max(per)))
print(f"{n} records ({model or 'default model'}, {sum(len(json.loads(l)['explanation']['ids']) for l in ref.splitlines()[1:]) / n:.1f} tokens each), {rounds} rounds; every output byte-identical")
print("| configuration | wall s (median) | records/s | speed-up (wall) | CPU s, all processes | CPU ms/record | busiest process, CPU s | speed-up, a core each: balanced / as split |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
med = lambda name, k: statistics.median(r[k] for r in res[name])
base_w, base_c = med(configs[0][0], 0), med(configs[0][0], 1)
for (name, _, _), procs in zip(configs, [1, 2, 2]):
    w, c, m = med(name, 0), med(name, 1), med(name, 2)
    print(f"| {name} | {w:.2f} | {n / w:.3g} | {base_w / w:.2f} | {c:.2f} | {1000 * c / n:.2f} | {m:.2f} | {procs * base_c / c:.2f} / {base_c / m:.2f} |")
print("(speed-up with a core per process: balanced = processes x CPU time of one process / CPU time of all, what")
print(" the run takes when the records split evenly; as split = CPU time of one process / that of the busiest")
print(" process here, where other jobs' load decided the split. MPI's CPU time includes mpirun and MPI_Init)")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
