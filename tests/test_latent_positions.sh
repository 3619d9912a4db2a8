#!/usr/bin/env bash
# explain --latent-layer L --per-position: latent_position_relevance [position][neuron] whose columns sum
# to latent_relevance (the per-neuron totals), on the shipped models (a decoder, an encoder-decoder's
# decoder layer) for the LRP methods and gradient×input; and the usage error without --latent-layer.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

check_sums() {  # check_sums LABEL ROWS -- explain arguments
    local label=$1 rows=$2
    shift 3
    if ! "$BIN" explain "$@" --per-position --format json >"$tmp/p.json" 2>"$tmp/p.err"; then
        bad "$label: $(cat "$tmp/p.err")"; return
    fi
    if "$PY" - "$tmp/p.json" "$rows" <<'PY'; then ok; else bad "$label"; fi
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
P = np.array(d["latent_position_relevance"], dtype=np.float64)
L = np.array(d["latent_relevance"], dtype=np.float64)
ok = P.shape == (int(sys.argv[2]), len(L)) and np.abs(P.sum(0) - L).max() <= 1e-5 * max(1.0, np.abs(L).max())
ok = ok and np.abs(P).max() > 0
print("rows", P.shape, "max |row sum - total|", np.abs(P.sum(0) - L).max() if P.size else None)
sys.exit(0 if ok else 1)
PY
}

for m in attnlrp cplrp gradxinput; do
    check_sums "default $m" 5 -- --model models/default --ids 1,50,60,70,80 --latent-layer 2 --method $m
done
check_sums "t5 decoder layer" 3 -- --model models/t5-facts --ids 5,6,7,1 --decoder-ids 9,10 --latent-layer 4
expect 2 "attnlrp: --per-position: only with --latent-layer L" -- "$BIN" explain --model models/default --ids 1,50 --per-position
finish
