#!/usr/bin/env bash
# Explains a JSONL data set on a Slurm job array: array task K of N runs `attnlrp batch --shard K/N`, then
# one job merges the N outputs in input order (attnlrp merge checks that no shard or record is missing and
# that all come from the same input file). A task that is preempted, requeued or resubmitted resumes where
# it stopped: batch skips the records its output already holds and repairs a torn last line.
#
#   sbatch --array=0-15 docs/slurm-array.sh data.jsonl out/            # 16 shards: out/shard-K-of-16.jsonl
#   sbatch --dependency=afterok:JOBID docs/slurm-array.sh --merge out/ data-explained.jsonl
#
# Options for every record go after the two paths (e.g. --model /models/llama-7b --method cplrp --drop large).
# Environment: ATTNLRP (the program, default attnlrp on PATH); the BLAS threads follow --cpus-per-task.
# Kubernetes indexed jobs and GNU parallel work the same way: K = the job's index, N = the count.
# ATTNLRP_COMMAND=eval or scan runs `attnlrp eval|scan --data IN --shard K/N --format json` instead (options
# after the paths as above, e.g. --methods attnlrp,cplrp or --layer 0 --neuron 175 --top 20), writing
# OUTDIR/shard-K-of-N.json; the --merge job then joins them into one report or the global top K (add
# --format text after MERGED for eval's table). These are not resumable: a requeued task reruns its shard.
#SBATCH --job-name=attnlrp-batch
#SBATCH --cpus-per-task=4
#SBATCH --mem=32G
#SBATCH --time=12:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=attnlrp-batch-%A_%a.log
set -euo pipefail
ATTNLRP=${ATTNLRP:-attnlrp}
if [ "${1:-}" = --merge ]; then
    dir=${2:?usage: docs/slurm-array.sh --merge OUTDIR MERGED.jsonl}
    merged=${3:?usage: docs/slurm-array.sh --merge OUTDIR MERGED.jsonl}
    shift 3
    exec "$ATTNLRP" merge "$dir"/shard-*.json* -o "$merged" "$@"
fi
data=${1:?usage: sbatch --array=0-(N-1) docs/slurm-array.sh IN.jsonl OUTDIR [batch options]}
dir=${2:?usage: sbatch --array=0-(N-1) docs/slurm-array.sh IN.jsonl OUTDIR [batch options]}
shift 2
: "${SLURM_ARRAY_TASK_ID:?not in a Slurm job array (sbatch --array=0-(N-1) ...)}"
k=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
n=${SLURM_ARRAY_TASK_COUNT:?}
export OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
mkdir -p "$dir"
case "${ATTNLRP_COMMAND:-batch}" in
    batch) exec "$ATTNLRP" batch --data "$data" -o "$dir/shard-$k-of-$n.jsonl" --shard "$k/$n" --progress "$@" ;;
    eval|scan) exec "$ATTNLRP" "$ATTNLRP_COMMAND" --data "$data" -o "$dir/shard-$k-of-$n.json" --shard "$k/$n" \
                   --format json --progress "$@" ;;
    *) echo "docs/slurm-array.sh: ATTNLRP_COMMAND=$ATTNLRP_COMMAND: expected batch, eval or scan" >&2; exit 2 ;;
esac
