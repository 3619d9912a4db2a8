#!/usr/bin/env bash
# The Python package (python/attnlrp): tests/python under pytest against the program's JSON, with the
# package used in place over $BUILD/libattnlrp.so; then `pip install --target` of ./python offline (no
# index, nothing downloaded) and the installed copy, with the library bundled into it, explaining from
# another directory. Each pytest test counts as one check.
# Skipped under the sanitizer build (BUILD=build-san): its libattnlrp.so needs the ASan runtime loaded
# first (LD_PRELOAD) into an uninstrumented python3, whose own allocations LeakSanitizer then reports;
# the same library code runs under ASan in build-san/tests/test_api.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

BUILD=${BUILD:-build}
if [ "$BUILD" = build-san ]; then finish; exit; fi
if ! "$PY" -c 'import numpy, pytest' 2>/dev/null; then bad "python3-numpy and python3-pytest are needed (deps.txt)"; finish; exit; fi
lib=$(pwd)/$BUILD/libattnlrp.so
check "$lib is built" '[ -e "$lib" ]'

out=$(ATTNLRP_LIB=$lib ATTNLRP_BIN=$BIN PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 \
      "$PY" -m pytest -q -p no:cacheprovider tests/python 2>&1)
summary=$(printf '%s\n' "$out" | tail -n 1)
np=$(printf '%s' "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
nf=$(printf '%s' "$summary" | grep -oE '[0-9]+ (failed|error)' | awk '{s += $1} END {print s + 0}')
pass=$((pass + ${np:-0}))
if [ -n "$nf" ] && [ "$nf" != 0 ]; then fail=$((fail + nf)); printf '%s\n' "$out" | tail -n 40; fi
[ -n "$np" ] || bad "pytest ran nothing: $summary"

# the notebook-style example runs as a script
ex=$(ATTNLRP_LIB=$lib PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 "$PY" python/examples/explain_notebook.py 2>&1)
exrc=$?
check "python/examples/explain_notebook.py runs (${ex:0:300})" '[ $exrc = 0 ] && [[ "$ex" == *"target '"' Rex'"'"* ]]'

# the README's Python example
awk '/^```python$/ {on = 1; next} /^```/ {on = 0} on' README.md > "$tmp/readme.py"
rd=$(ATTNLRP_LIB=$lib PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 "$PY" -c 'exec(open("'"$tmp/readme.py"'").read()); print(ex.target_token, ex.layers.shape)' 2>&1)
# what the program itself predicts for the README's prompt (the expected values come from the CLI)
want=$($BIN explain "Leo's dog is called" --format json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_token"])')
check "the README's Python example runs and predicts [$want] as the CLI does (${rd:0:300})" '[[ "$rd" == *"$want (4, 6)" ]]'

# pip install offline into a target directory (the Debian python3 is externally managed: a virtual
# environment or --target, as the README says)
site=$tmp/site
if ATTNLRP_LIB=$lib "$PY" -m pip install --no-index --quiet --disable-pip-version-check --target "$site" ./python \
        >"$tmp/pip.log" 2>&1; then ok; else bad "pip install ./python: $(grep -v WARNING "$tmp/pip.log" | tail -3)"; fi
check "the installed package carries the library" '[ -f "$site/attnlrp/libattnlrp.so" ]'
got=$(cd "$tmp" && env -u ATTNLRP_LIB -u ATTNLRP_MODEL PYTHONPATH="$site" "$PY" -c '
import attnlrp, os
ex = attnlrp.Model().explain("Leo'"'"'s dog is called")
print(os.path.dirname(attnlrp._L().path) == os.path.dirname(attnlrp.__file__), ex.target_token, ex.relevance.dtype)' 2>&1)
check "the installed package explains from elsewhere with its own library ($got)" '[ "$got" = "True $want float32" ]'
rm -rf python/build python/attnlrp.egg-info   # what setuptools leaves in the source tree
finish
