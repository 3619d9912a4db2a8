#!/usr/bin/env bash
# eval and scan across processes (issue 18 item 4): --jobs 2 and MPI with 3 ranks give the one-process
# report (eval: every number but the timings; scan: the same bytes, and --jobs 2's top K against a
# brute-force float64 PyTorch scan, tests/reference/scan_check.py), shards 0/2 and 1/2 joined by attnlrp merge give the unsharded run's
# report and top K; mismatched, missing or repeated shards, --jobs 0 and --jobs where there is nothing to
# spread are one error line each; batch names a record's bad option by its field.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

# 13 records of the shipped eval set, a record that is not JSON and one with a bad target among them
{ head -n 6 data/eval.jsonl; echo 'oops'; sed -n 7,12p data/eval.jsonl
  echo '{"text": "Leo has a dog.", "target": " no such token"}'; sed -n 13p data/eval.jsonl; } > "$tmp/e.jsonl"
M="--methods attnlrp,gradient,random --steps 5"

# Everything but the timings (which no two runs share): the report of one run against another.
cat > "$tmp/same.py" <<'EOF'
import json, sys
def strip(d):
    for k in ('shard', 'options'): d.pop(k, None)
    for m in d['methods']: m.pop('seconds_per_record'); m.pop('forward_multiple')
    for r in d['records']:
        r.pop('forward_seconds')
        for m in r['methods'].values(): m.pop('seconds')
    return d
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
diff = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
assert not diff, diff
assert a['n_records'] == 15 and a['n_evaluated'] == 13 and [x['line'] for x in a['bad_records']] == [7, 14], a['bad_records']
EOF

# ---- eval ----
"$BIN" eval --data "$tmp/e.jsonl" $M --format json -o "$tmp/e1.json" 2> "$tmp/e1.err"
"$BIN" eval --data "$tmp/e.jsonl" $M --format json -o "$tmp/e2.json" --jobs 2 2> "$tmp/e2.err"
check "eval --jobs 2 reports what one process reports (every value but the timings)" \
    "$PY '$tmp/same.py' '$tmp/e1.json' '$tmp/e2.json'"
check "eval --jobs 2 reports the bad records as one process does, in input order" 'cmp -s "$tmp/e1.err" "$tmp/e2.err"'
check "eval --jobs 2's ΔA table equals one process's (text, timing columns left out)" \
    "diff <('$BIN' eval --data '$tmp/e.jsonl' $M 2>/dev/null | cut -c1-70) \
          <('$BIN' eval --data '$tmp/e.jsonl' $M --jobs 2 2>/dev/null | cut -c1-70) > /dev/null"
"$BIN" eval --data "$tmp/e.jsonl" $M --on-bad fail --jobs 2 > /dev/null 2> "$tmp/f.err"
st=$?
check "eval --jobs 2 --on-bad fail stops at the first bad record, one line [$(cat "$tmp/f.err")]" \
    '[ $st = 1 ] && [ "$(cat "$tmp/f.err")" = "attnlrp: $tmp/e.jsonl:7: invalid JSON at column 4: '"'"'['"'"' or '"'"'{'"'"' expected near '"'"'oops'"'"'" ]'
for k in 0 1; do "$BIN" eval --data "$tmp/e.jsonl" $M --format json --shard $k/2 -o "$tmp/es.$k" 2>/dev/null; done
"$BIN" merge "$tmp/es.1" "$tmp/es.0" -o "$tmp/em.json"
check "eval shards 0/2 and 1/2 merged report what one run reports (records pooled, not means averaged)" \
    "$PY '$tmp/same.py' '$tmp/e1.json' '$tmp/em.json'"
check "the merged eval report is the unsharded one: shard 0/1, the run's options" "$PY - '$tmp/e1.json' '$tmp/em.json' <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert b['shard'] == [0, 1] and a['options'] == b['options'] and a['sha256'] == b['sha256']
EOF"
"$BIN" merge "$tmp/es.0" "$tmp/es.1" --format text -o "$tmp/em.txt"
check "merge --format text gives eval's table" \
    "diff <(cut -c1-70 '$tmp/em.txt' | grep -v '^attnlrp eval') \
          <('$BIN' eval --data '$tmp/e.jsonl' $M 2>/dev/null | cut -c1-70 | grep -v '^attnlrp eval') > /dev/null"

for k in 0 1; do
    ATTNLRP="$BIN" ATTNLRP_COMMAND=eval SLURM_ARRAY_TASK_ID=$k SLURM_ARRAY_TASK_COUNT=2 \
        bash docs/slurm-array.sh "$tmp/e.jsonl" "$tmp/slurm" $M 2>/dev/null
done
ATTNLRP="$BIN" bash docs/slurm-array.sh --merge "$tmp/slurm" "$tmp/slurm.json"
check "docs/slurm-array.sh with ATTNLRP_COMMAND=eval: two array tasks and the merge job give one run's report" \
    "$PY '$tmp/same.py' '$tmp/e1.json' '$tmp/slurm.json'"

# ---- scan ----
S="--layer 0 --neuron 175 --top 3 --format json"
"$BIN" scan --data data/eval.jsonl $S -o "$tmp/s1.json"
"$BIN" scan --data data/eval.jsonl $S -o "$tmp/s2.json" --jobs 2
check "scan --jobs 2 gives one process's top K and attributions (the same bytes)" 'cmp -s "$tmp/s1.json" "$tmp/s2.json"'
for k in 0 1; do "$BIN" scan --data data/eval.jsonl $S --shard $k/2 -o "$tmp/ss.$k"; done
"$BIN" merge "$tmp/ss.0" "$tmp/ss.1" -o "$tmp/sm.json"
check "scan shards 0/2 and 1/2 merged give the unsharded top K, attributed (winners from both shards)" \
    "$PY - '$tmp/s1.json' '$tmp/sm.json' '$tmp/ss.0' <<'EOF'
import json, sys
a, b, s0 = (json.load(open(p)) for p in sys.argv[1:])
assert a == b, [r['index'] for r in b['results']]
idx = [r['index'] for r in a['results']]
assert {i % 2 for i in idx} == {0, 1}, idx                 # the test needs winners from both shards
assert s0['windows'] == (a['windows'] + 1) // 2 and b['windows'] == a['windows'] == 600
EOF"

"$PY" -c "
import json
for l in list(open('data/eval.jsonl'))[:30]: print(json.loads(l)['text'])" > "$tmp/facts.txt"
out=$("$PY" tests/reference/scan_check.py --bin "$BIN" --model models/default --text "$tmp/facts.txt" --window 24 \
      --layer 2 --neuron 17 --top 4 --scan-args "--jobs 2" 2>&1)
check "scan --jobs 2 against the brute-force float64 PyTorch scan (plain text, windows of 24) [$(printf '%s\n' "$out" | grep FAIL | head -n 3)]" \
    'printf "%s\n" "$out" | grep -qE "^[1-9][0-9]* passed, 0 failed"'

# ---- bad input ----
expect 2 "attnlrp: --jobs 0: must lie in 1..1024" -- "$BIN" eval --data "$tmp/e.jsonl" --jobs 0
expect 2 "attnlrp: --jobs 0: must lie in 1..1024" -- "$BIN" scan --data data/eval.jsonl $S --jobs 0
"$BIN" scan --data data/eval.jsonl --layer 0 --neurons all --top 2 -o "$tmp/atlas.json"
expect 2 "attnlrp: --atlas: the windows come from the atlas; there is no scan to spread over --jobs or MPI ranks (run it in one process)" -- \
    "$BIN" scan --atlas "$tmp/atlas.json" --neuron 175 --jobs 2
expect 1 "attnlrp: merge: shard 1/2 is missing (1 of 2 shard files given)" -- "$BIN" merge "$tmp/es.0" -o "$tmp/x"
expect 1 "attnlrp: merge: $tmp/ss.0: shard 0/2 again (also $tmp/ss.0)" -- "$BIN" merge "$tmp/ss.0" "$tmp/ss.0" -o "$tmp/x"
"$BIN" eval --data "$tmp/e.jsonl" --methods attnlrp,gradient,random --steps 4 --format json --shard 1/2 -o "$tmp/es4.1" 2>/dev/null
expect 1 "attnlrp: merge: $tmp/es4.1: was written with other options than $tmp/es.0" -- \
    "$BIN" merge "$tmp/es.0" "$tmp/es4.1" -o "$tmp/x"
head -n 10 "$tmp/e.jsonl" > "$tmp/e10.jsonl"
"$BIN" eval --data "$tmp/e10.jsonl" $M --format json --shard 1/2 -o "$tmp/e10.1" 2>/dev/null
expect 1 "attnlrp: merge: $tmp/e10.1: comes from another data set (sha256) than $tmp/es.0" -- \
    "$BIN" merge "$tmp/es.0" "$tmp/e10.1" -o "$tmp/x"
"$BIN" scan --data data/eval.jsonl $S --shard 1/3 -o "$tmp/ss3.1"
expect 1 "attnlrp: merge: $tmp/ss3.1: has another shard count N than $tmp/ss.0 (3, not 2)" -- \
    "$BIN" merge "$tmp/ss.0" "$tmp/ss3.1" -o "$tmp/x"
expect 1 "attnlrp: merge: $tmp/ss.1: not an attnlrp eval --format json output (unlike $tmp/es.0)" -- \
    "$BIN" merge "$tmp/es.0" "$tmp/ss.1" -o "$tmp/x"
expect 2 "attnlrp: --format: only eval shards are written as text or JSON ($tmp/ss.0 is no eval output)" -- \
    "$BIN" merge "$tmp/ss.0" "$tmp/ss.1" --format text -o "$tmp/x"
check "a failed merge leaves no output" '[ ! -e "$tmp/x" ]'

# ---- batch names a record's bad option by its field, a command-line default by its flag ----
printf '%s\n' '{"text": "Leo has a dog.", "position": 99}' '{"ids": [1, 2, 99999]}' '{"text": "Hi"}' > "$tmp/b.jsonl"
err=$("$BIN" batch --data "$tmp/b.jsonl" -o "$tmp/b.out" --position 3 2>&1)
want="attnlrp: $tmp/b.jsonl line 1: field \"position\": 99: out of range for 7 tokens (0..6)
attnlrp: $tmp/b.jsonl line 2: field \"ids\": id 99999 at index 2 is out of range (vocabulary size 1475)
attnlrp: $tmp/b.jsonl line 3: --position 3: out of range for 3 tokens (0..2)"
check "batch: record fields named as fields, the default as its flag [$err]" '[ "$err" = "$want" ]'

# ---- MPI: three ranks, rank 0 gathering ----
if ! command -v mpirun > /dev/null || ! command -v mpicc > /dev/null; then
    echo "SKIP: MPI test (mpirun or mpicc missing: apt-get install openmpi-bin libopenmpi-dev)"
else
    san=""
    [ "${BUILD:-build}" = build-san ] && san="SAN=1"
    make -s mpi $san > "$tmp/make.log" 2>&1 || cat "$tmp/make.log"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0
    MPI="timeout 120 mpirun --oversubscribe -np 3 ${BUILD:-build}/attnlrp-mpi"
    $MPI eval --data "$tmp/e.jsonl" $M --format json -o "$tmp/e3.json" > "$tmp/mpi.log" 2>&1
    check "mpirun -np 3 eval reports what one process reports [$(grep -v '^attnlrp: .*e.jsonl:' "$tmp/mpi.log" | tail -n 3)]" \
        "$PY '$tmp/same.py' '$tmp/e1.json' '$tmp/e3.json'"
    $MPI scan --data data/eval.jsonl $S -o "$tmp/s3.json" > "$tmp/mpi.log" 2>&1
    check "mpirun -np 3 scan gives one process's bytes [$(tail -n 3 "$tmp/mpi.log")]" 'cmp -s "$tmp/s1.json" "$tmp/s3.json"'
    $MPI eval --data "$tmp/e.jsonl" --jobs 2 > "$tmp/mpi.log" 2>&1
    st=$?
    check "mpirun eval --jobs 2 is one error line [$(grep attnlrp: "$tmp/mpi.log")]" \
        '[ $st != 0 ] && [ "$(grep -c "^attnlrp:" "$tmp/mpi.log")" = 1 ] && grep -q "^attnlrp: --jobs: under MPI every rank is one worker" "$tmp/mpi.log"'
fi
finish
