#!/usr/bin/env bash
# attnlrp batch and merge (issue 18): every record's explanation equals a separate `attnlrp explain` of the
# same options; a run killed with SIGKILL (and a torn last line) resumes to exactly the bytes of an
# uninterrupted run; --jobs 2, three shards merged, and MPI with 3 ranks give the same bytes; bad records,
# bad shard specs, duplicate ids, an output of another input and incomplete shard sets are one line each;
# eval and scan --shard K/N against the same commands over a file holding only the shard's records.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

# ---- records carry explain's options: each explanation against a separate explain run ----
cat > "$tmp/m.jsonl" <<'EOF'
{"id": "a", "text": "Leo's dog is called Rex. Mia's cat is called", "target": " Tom"}
{"id": "b", "ids": [1, 1402, 1335, 654, 435, 1229], "method": "cplrp", "target_id": 42, "position": 2, "layers": false}
{"id": 70, "ids": "1,1402,1335,654,435,1229", "contrast": 7}
oops
{"id": "d", "text": "Leo's dog is called Rex. Leo's dog is called", "answer": " Rex."}

{"id": "e", "ids": [1, 1402, 1335, 654, 435, 1229], "latent_start": [1, 3, 17]}
{"id": "f", "text": "Leo's dog is called", "target": " no such token"}
[1, 2]
{"id": "g", "text": "Leo's dog is called", "set": ["1:3=0", "2:4=*2"], "method": "gradxinput", "target": 577}
EOF
err=$("$BIN" batch --data "$tmp/m.jsonl" -o "$tmp/m.out" --layers --target " Rex" 2>&1)
st=$?
check "batch with bad records skipped exits 0" '[ $st = 0 ]'
want="attnlrp: $tmp/m.jsonl line 4: not JSON: '[' or '{' expected near 'oops' (column 4)
attnlrp: $tmp/m.jsonl line 8: field \"target\": \" no such token\" is 9 tokens, not one: \" no\" (443), \" s\" (298), \"u\" (121), \"c\" (103), \"h\" (108), \" to\" (465), \"k\" (111), \"e\" (105), \"n\" (114)
attnlrp: $tmp/m.jsonl line 9: not a JSON object"
check "bad records are reported with their line numbers [$err]" '[ "$err" = "$want" ]'
E() { "$BIN" explain "$@" --format json; }
{
    E "Leo's dog is called Rex. Mia's cat is called" --target " Tom" --layers
    E --ids 1,1402,1335,654,435,1229 --method cplrp --target-id 42 --position 2
    E --ids 1,1402,1335,654,435,1229 --contrast 7 --layers --target " Rex"
    E "Leo's dog is called Rex. Leo's dog is called" --answer " Rex." --layers   # --target replaced
    E --ids 1,1402,1335,654,435,1229 --latent-start 1,3,17 --layers
    E "Leo's dog is called" --set 1:3=0 --set 2:4=*2 --method gradxinput --target-id 577 --layers
} > "$tmp/m.ref"
check "each explanation equals a separate explain run (ids, order, error lines)" "$PY - '$tmp/m.out' '$tmp/m.ref' <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
refs = [json.loads(l) for l in open(sys.argv[2])]
head, recs = lines[0], lines[1:]
assert head['attnlrp_batch'] == 1 and head['records'] == 9 and head['shard'] == [0, 1], head
assert head['options'] == ['--layers', '--target', ' Rex'], head['options']
assert [r['id'] for r in recs] == ['a', 'b', 70, 3, 'd', 'e', 'f', 7, 'g'], [r['id'] for r in recs]
assert [r['index'] for r in recs] == list(range(9)) and [r['line'] for r in recs] == [1, 2, 3, 4, 5, 7, 8, 9, 10]
assert [('error' in r) for r in recs] == [False, False, False, True, False, False, True, True, False]
got = [r['explanation'] for r in recs if 'explanation' in r]
assert len(got) == len(refs) == 6
for g, r in zip(got, refs):
    g.pop('seconds'); r.pop('seconds')
    assert g == r, (g, r)
EOF"
# image records, as eval writes them ("image", "label") or as explain names them ("pixels", "gamma")
printf '%s\n' '{"id": "coat", "image": "data/fashion/4-coat.png", "label": "Coat"}' \
    '{"id": "boot", "pixels": "data/fashion/9-ankle-boot.png", "method": "cplrp", "gamma": [0.25, 0.05]}' > "$tmp/img.jsonl"
"$BIN" batch --model models/vit-fashion --data "$tmp/img.jsonl" -o "$tmp/img.out" --drop seconds 2>/dev/null
{
    "$BIN" explain --model models/vit-fashion --pixels data/fashion/4-coat.png --target Coat --format json
    "$BIN" explain --model models/vit-fashion --pixels data/fashion/9-ankle-boot.png --method cplrp --gamma 0.25,0.05 --format json
} > "$tmp/img.ref"
check "image records equal separate explain runs" "$PY - '$tmp/img.out' '$tmp/img.ref' <<'EOF'
import json, sys
got = [json.loads(l)['explanation'] for l in list(open(sys.argv[1]))[1:]]
ref = [json.loads(l) for l in open(sys.argv[2])]
for r in ref: r.pop('seconds')
assert len(got) == 2 and got == ref, 'differ'
EOF"
"$BIN" batch --data "$tmp/m.jsonl" -o "$tmp/m3.out" --layers --target " Rex" --drop large,top,conservation,seconds 2>/dev/null
check "--drop leaves out exactly those fields and keeps every other number as explain wrote it" "$PY - '$tmp/m3.out' '$tmp/m.ref' <<'EOF'
import json, sys
got = [json.loads(l)['explanation'] for l in list(open(sys.argv[1]))[1:] if '\"explanation\"' in l]
ref = [json.loads(l) for l in open(sys.argv[2])]
large = ['logits', 'relevance_pixels', 'residual_relevance', 'encoder_residual_relevance', 'decoder_residual_relevance',
         'latent_relevance', 'latent_position_relevance', 'expert_relevance', 'top', 'conservation', 'seconds']
assert any('residual_relevance' in r for r in ref)
for r in ref:
    for k in large: r.pop(k, None)
assert len(got) == 6 and got == ref, 'differ'
EOF"
expect 1 "attnlrp: $tmp/m.jsonl line 4: not JSON: '[' or '{' expected near 'oops' (column 4)" -- \
    "$BIN" batch --data "$tmp/m.jsonl" -o "$tmp/m2.out" --on-error fail
check "--on-error fail keeps the records before the bad one" '[ $(wc -l < "$tmp/m2.out") = 4 ] && ! grep -q error "$tmp/m2.out"'

# ---- kill -9 mid-run, a torn last line, re-run: the bytes of an uninterrupted run ----
head -n 300 data/eval.jsonl > "$tmp/in.jsonl"
"$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/ref.out" --drop seconds 2>/dev/null
check "an uninterrupted run writes the header and every record" '[ $(wc -l < "$tmp/ref.out") = 301 ]'
"$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/k.out" --drop seconds 2>/dev/null &
pid=$!
for _ in $(seq 400); do [ -f "$tmp/k.out" ] && [ "$(wc -l < "$tmp/k.out")" -gt 20 ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
n_killed=$(wc -l < "$tmp/k.out")
echo "kill -9 left $n_killed of 301 lines"
printf '{"id": 999, "index": 2' >> "$tmp/k.out"    # what a write cut by the kill leaves
err=$("$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/k.out" --drop seconds 2>&1)
check "the re-run after kill -9 ($n_killed lines kept) says it repaired the torn line [$err]" \
    '[ "$err" = "attnlrp: batch: $tmp/k.out: cut off a torn last line (an interrupted run); going on" ]'
check "the re-run after kill -9 gives exactly the uninterrupted run's bytes" 'cmp -s "$tmp/ref.out" "$tmp/k.out"'
"$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/k.out" --drop seconds 2>/dev/null
check "a run over a finished output adds nothing" 'cmp -s "$tmp/ref.out" "$tmp/k.out"'

# ---- --jobs and shards + merge: the same bytes ----
"$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/j.out" --drop seconds --jobs 2 2>/dev/null
check "--jobs 2 gives the same bytes as one process" 'cmp -s "$tmp/ref.out" "$tmp/j.out"'
# a worker process killed mid-run: the run stops with one error line and its output resumes like any other
"$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/w.out" --drop seconds --jobs 2 2> "$tmp/w.err" &
pid=$!
for _ in $(seq 400); do [ -f "$tmp/w.out" ] && [ "$(wc -l < "$tmp/w.out")" -gt 20 ] && break; sleep 0.02; done
child=$(cat /proc/$pid/task/$pid/children 2>/dev/null | cut -d' ' -f1)   # a forked worker
[ -n "$child" ] || child=$(awk -v p=$pid '{ s = substr($0, index($0, ") ") + 2); split(s, a, " ");
                                            if (a[2] == p) { print $1; exit } }' /proc/[0-9]*/stat 2>/dev/null)
[ -n "$child" ] && kill -9 "$child"
wait $pid
st=$?
if [ -n "$child" ] && [ $st != 0 ]; then
    check "a killed worker stops the run with one error line [$(cat "$tmp/w.err")]" \
        '[ $st = 1 ] && [ $(wc -l < "$tmp/w.err") = 1 ] && grep -qE "^attnlrp: batch: (worker process [0-9]+ ended unexpectedly|cannot hand a record to worker 1)$" "$tmp/w.err"'
else
    echo "note: the --jobs 2 run ended before its worker could be killed (exit $st)"
fi
"$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/w.out" --drop seconds --jobs 2 2>/dev/null
check "after a killed worker, the re-run gives the uninterrupted run's bytes" 'cmp -s "$tmp/ref.out" "$tmp/w.out"'
for k in 0 1 2; do "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/s.$k" --drop seconds --shard $k/3 2>/dev/null; done
check "shard 1/3 holds every third record from index 1" \
    '[ "$(sed 1d "$tmp/s.1" | $PY -c "import json,sys; print([json.loads(l)[\"index\"] for l in sys.stdin][:3])")" = "[1, 4, 7]" ]'
"$BIN" merge "$tmp/s.2" "$tmp/s.0" "$tmp/s.1" -o "$tmp/merged.out"
check "merge joins three shards into the unsharded run's bytes" 'cmp -s "$tmp/ref.out" "$tmp/merged.out"'
expect 1 "attnlrp: merge: shard 1/3 is missing (2 of 3 shard files given)" -- "$BIN" merge "$tmp/s.0" "$tmp/s.2" -o "$tmp/x.out"
expect 1 "attnlrp: merge: $tmp/s.0: shard 0/3 again (also $tmp/s.0)" -- "$BIN" merge "$tmp/s.0" "$tmp/s.0" -o "$tmp/x.out"
head -n 50 "$tmp/s.1" > "$tmp/s1.part"
expect 1 "attnlrp: merge: $tmp/s1.part: record index 148 is missing (the file ends at line 50; finish the shard's run first)" -- \
    "$BIN" merge "$tmp/s.0" "$tmp/s1.part" "$tmp/s.2" -o "$tmp/x.out"
check "a failed merge leaves no output" '[ ! -e "$tmp/x.out" ]'

# docs/slurm-array.sh as three array tasks (Slurm's variables set by hand), then its merge job
for k in 0 1 2; do
    SLURM_ARRAY_TASK_ID=$((k + 5)) SLURM_ARRAY_TASK_MIN=5 SLURM_ARRAY_TASK_COUNT=3 ATTNLRP="$BIN" \
        bash docs/slurm-array.sh "$tmp/in.jsonl" "$tmp/slurm" --drop seconds 2>/dev/null
done
ATTNLRP="$BIN" bash docs/slurm-array.sh --merge "$tmp/slurm" "$tmp/slurm.out"
check "docs/slurm-array.sh: three array tasks and the merge job give the unsharded run's bytes" \
    'cmp -s "$tmp/ref.out" "$tmp/slurm.out"'

# ---- bad input: one line each ----
expect 2 "attnlrp: --shard 3/2: K must be less than N (shards are numbered 0 to 1)" -- \
    "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/x.out" --shard 3/2
expect 2 "attnlrp: --shard 0/0: N must be at least 1" -- "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/x.out" --shard 0/0
expect 2 "attnlrp: --shard 1of2: expected K/N (shard K of N, 0 <= K < N, e.g. 0/4)" -- \
    "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/x.out" --shard 1of2
head -n 10 data/eval.jsonl > "$tmp/other.jsonl"
expect 1 "attnlrp: -o $tmp/ref.out: belongs to another input file (its sha256 differs) (written from $tmp/in.jsonl, sha256 $(sha256sum "$tmp/in.jsonl" | cut -c1-12)...; now $tmp/other.jsonl, sha256 $(sha256sum "$tmp/other.jsonl" | cut -c1-12)...)" -- \
    "$BIN" batch --data "$tmp/other.jsonl" -o "$tmp/ref.out" --drop seconds
expect 1 "attnlrp: -o $tmp/ref.out: was written with other explain options or --drop (written from $tmp/in.jsonl, sha256 $(sha256sum "$tmp/in.jsonl" | cut -c1-12)...; now $tmp/in.jsonl, sha256 $(sha256sum "$tmp/in.jsonl" | cut -c1-12)...)" -- \
    "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/ref.out" --drop seconds --method cplrp
check "the refused output is left as it was" 'cmp -s "$tmp/ref.out" "$tmp/k.out"'
"$BIN" batch --data "$tmp/other.jsonl" -o "$tmp/o.0" --drop seconds --shard 0/3 2>/dev/null
expect 1 "attnlrp: merge: $tmp/o.0: comes from another input file (sha256) than $tmp/s.0" -- \
    "$BIN" merge "$tmp/s.0" "$tmp/o.0" "$tmp/s.2" -o "$tmp/x.out"
printf '{"id": "x", "text": "a"}\n{"text": "b"}\n{"id": "x", "text": "c"}\n' > "$tmp/dup.jsonl"
expect 1 "attnlrp: --data $tmp/dup.jsonl line 3: duplicate id \"x\" (first at line 1)" -- \
    "$BIN" batch --data "$tmp/dup.jsonl" -o "$tmp/x.out"
echo "not a batch output" > "$tmp/plain.txt"
expect 1 "attnlrp: -o $tmp/plain.txt: not an attnlrp batch output (its first line is no batch header); refusing to append to it" -- \
    "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/plain.txt"
expect 2 "attnlrp: batch: give the output file with -o OUT.jsonl (a file: the run appends to it and resumes)" -- \
    "$BIN" batch --data "$tmp/in.jsonl"
expect 1 "attnlrp: --data /dev/stdin: not a regular file (batch reads its input twice: for its sha256, then the records)" -- \
    "$BIN" batch --data /dev/stdin -o "$tmp/x.out" < <(echo '{"text": "a"}')
exec 9>> "$tmp/k.out"
flock 9   # as a run that is still writing it
expect 1 "attnlrp: -o $tmp/k.out: another run is writing it (locked)" -- "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/k.out" --drop seconds
exec 9>&-
expect 2 "attnlrp: --format: batch writes JSON lines only" -- "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/x.out" --format html
expect 2 "attnlrp: --method nope: unknown method (attnlrp, cplrp, gradxinput, gradient, ig, smoothgrad, occlusion, attention, rollout, gradxattnroll, atman, kernelshap)" -- \
    "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/x.out" --method nope
expect 2 "attnlrp: --on-error maybe: expected skip or fail" -- "$BIN" batch --data "$tmp/in.jsonl" -o "$tmp/x.out" --on-error maybe

# ---- eval and scan --shard: the same as over a file that holds only the shard's records ----
sed -n '2~3p' "$tmp/in.jsonl" | head -n 20 > "$tmp/every3.jsonl"   # records 1, 4, 7, ... (indices mod 3 = 1)
"$BIN" eval --data "$tmp/in.jsonl" --shard 1/3 --limit 20 --methods attnlrp,cplrp --format json > "$tmp/e.shard" 2>/dev/null
"$BIN" eval --data "$tmp/every3.jsonl" --limit 20 --methods attnlrp,cplrp --format json > "$tmp/e.file" 2>/dev/null
check "eval --shard 1/3 measures what eval of that shard's records measures (lines 2, 5, 8, ...)" "$PY - '$tmp/e.shard' '$tmp/e.file' <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert [r['line'] for r in a['records']] == list(range(2, 60, 3)), 'line numbers of the file'
for d in (a, b):
    d.pop('data')
    for k in ('sha256', 'shard', 'records_in_data'): d.pop(k)   # the data set and shard differ
    for m in d['methods']: m.pop('seconds_per_record'); m.pop('forward_multiple', None)
    for r in d['records']:
        r.pop('line'); r.pop('forward_seconds')
        for m in r['methods'].values(): m.pop('seconds')
assert a['n_records'] == 20 and a == b, 'the shard and the file differ'
EOF"
sed -n '2~2p' "$tmp/in.jsonl" > "$tmp/odd.jsonl"
"$BIN" scan --data "$tmp/in.jsonl" --layer 2 --neuron 13 --top 3 --shard 1/2 --format json > "$tmp/sc.shard"
"$BIN" scan --data "$tmp/odd.jsonl" --layer 2 --neuron 13 --top 3 --format json > "$tmp/sc.file"
check "scan --shard 1/2 keeps the top windows of the odd records (index 2j+1 for record j of them)" "$PY - '$tmp/sc.shard' '$tmp/sc.file' <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a['windows'] == b['windows'] == 150, (a['windows'], b['windows'])
assert [r['index'] for r in a['results']] == [2 * r['index'] + 1 for r in b['results']]
assert [(r['activation'], r['relevance']) for r in a['results']] == [(r['activation'], r['relevance']) for r in b['results']]
EOF"
expect 2 "attnlrp: --shard 3/2: K must be less than N (shards are numbered 0 to 1)" -- "$BIN" eval --data "$tmp/in.jsonl" --shard 3/2
expect 2 "attnlrp: --shard 0/0: N must be at least 1" -- "$BIN" scan --data "$tmp/in.jsonl" --layer 2 --neuron 13 --shard 0/0

# ---- MPI: rank 0 hands records to two more ranks and writes the one output ----
if ! command -v mpirun > /dev/null || ! command -v mpicc > /dev/null; then
    echo "SKIP: MPI test (mpirun or mpicc missing: apt-get install openmpi-bin libopenmpi-dev)"
else
    san=""
    [ "${BUILD:-build}" = build-san ] && san="SAN=1"
    make -s mpi $san > "$tmp/make.log" 2>&1 || cat "$tmp/make.log"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0
    timeout 120 mpirun --oversubscribe -np 3 "${BUILD:-build}/attnlrp-mpi" batch --data "$tmp/in.jsonl" -o "$tmp/mpi.out" \
        --drop seconds > "$tmp/mpi.log" 2>&1
    st=$?
    check "mpirun -np 3 batch exits 0 [$(tail -n 3 "$tmp/mpi.log")]" '[ $st = 0 ]'
    check "MPI with 3 ranks gives the same bytes as one process" 'cmp -s "$tmp/ref.out" "$tmp/mpi.out"'
    head -n 100 "$tmp/ref.out" > "$tmp/mpi2.out"
    timeout 120 mpirun --oversubscribe -np 2 "${BUILD:-build}/attnlrp-mpi" batch --data "$tmp/in.jsonl" -o "$tmp/mpi2.out" \
        --drop seconds > "$tmp/mpi.log" 2>&1
    check "MPI resumes a partial output to the same bytes" 'cmp -s "$tmp/ref.out" "$tmp/mpi2.out"'
    timeout 120 mpirun --oversubscribe -np 3 "${BUILD:-build}/attnlrp-mpi" batch --data "$tmp/m.jsonl" -o "$tmp/mpi3.out" \
        --on-error fail > "$tmp/mpi.log" 2>&1
    st=$?
    check "MPI with --on-error fail stops at the bad record (exit $st) [$(grep attnlrp: "$tmp/mpi.log")]" \
        '[ $st != 0 ] && grep -q "^attnlrp: $tmp/m.jsonl line 4: not JSON" "$tmp/mpi.log" && [ $(wc -l < "$tmp/mpi3.out") = 4 ]'
fi
finish
