#!/usr/bin/env bash
# The rough edges a new user met (issue 13, items 8-18): empty text, the model's context, the gradient
# method's readouts, output files (mode, umask, symbolic links), the README's commands as printed, "--",
# non-finite --set, exit statuses, silently ignored flags, --help / --version / help CMD / --flag=value /
# colour, info, make deps and .gitignore. Values are checked against what the contract says, not against
# an earlier run of the program.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
ROOT=$PWD
BUILD=${BUILD:-build}
D=models/default
P="Leo's dog is called Rex. Leo's dog is called"
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- 8. empty text is one clear usage error, never the NUL-byte token ----
expect 2 'attnlrp: --target: empty text (give at least one character)' -- $BIN explain "$P" --target ""
expect 2 'attnlrp: --contrast: empty text (give at least one character)' -- $BIN explain "$P" --contrast ""
expect 2 'attnlrp: --target: empty text (give at least one character)' -- $BIN neurons "$P" --target ""
expect 2 'attnlrp: explain: TEXT: empty text (give at least one character)' -- $BIN explain ""
expect 2 'attnlrp: neurons: TEXT: empty text (give at least one character)' -- $BIN neurons ""
expect 2 'attnlrp: generate: TEXT: empty text (give at least one character)' -- $BIN generate ""
expect 2 'attnlrp: --text-pair: empty text (give at least one character)' -- $BIN explain --model models/sentiment "fine" --text-pair ""

# ---- 9. the model's context (128 positions for the shipped model) ----
ids128=$(seq -s, 1 128)
ids129=$(seq -s, 1 129)
check "explain at the context length (128 tokens) runs" '$BIN explain --ids "$ids128" >/dev/null 2>&1'
expect 2 "attnlrp: input: 129 tokens exceed the model's context of 128 positions (max_position_embeddings)" -- $BIN explain --ids "$ids129"
expect 2 "attnlrp: input: 129 tokens exceed the model's context of 128 positions (max_position_embeddings)" -- $BIN neurons --ids "$ids129"
long=$(printf "Leo's dog is called Rex. %.0s" $(seq 40))
n_long=$($BIN tokenize --format json "${long}Leo's dog is called" | json 'len(d["ids"])')
expect 2 "attnlrp: input: $n_long tokens exceed the model's context of 128 positions (max_position_embeddings)" -- $BIN explain "${long}Leo's dog is called"
{ echo '{"text": "Leo'"'"'s dog is called Rex. Leo'"'"'s dog is called", "span": [20, 23]}'
  printf '{"text": "%s", "span": [20, 23]}\n' "${long}Leo's dog is called"; } >"$tmp/long.jsonl"
err=$($BIN eval --data "$tmp/long.jsonl" --methods attnlrp 2>&1 >/dev/null)
check "eval reports an over-long record as bad, naming the context: $err" \
    '[[ "$err" == *"long.jsonl:2: "*"$n_long tokens exceed the model'"'"'s context of 128 positions"* ]]'

# ---- 10. --method gradient: every readout is the L2 norm of the gradient (JSON readout names it) ----
out=$($BIN explain "$P" --method gradient --latent-start 3,5,7 --latent-layer 3 --layers --format json)
check "gradient: readout field" '[ "$(echo "$out" | json "d[\"readout\"]")" = gradient_l2_norm ]'
# A latent start's own neuron: its gradient is 1 at (5, 7) and 0 elsewhere in that layer, so its norm is 1
# and every other neuron of layer 3 has none.
check "gradient: the start neuron's own readout is |1| = 1, the others 0" \
    '[ "$(echo "$out" | json "int(abs(d[\"latent_relevance\"][7] - 1) < 1e-6 and max(abs(v) for i, v in enumerate(d[\"latent_relevance\"]) if i != 7) == 0)")" = 1 ]'
check "gradient: residual readouts are norms (not negative)" \
    '[ "$(echo "$out" | json "int(min(min(r) for r in d[\"residual_relevance\"]) >= 0)")" = 1 ]'
out=$($BIN explain "$P" --method gradxinput --latent-start 3,5,7 --latent-layer 3 --format json)
check "gradxinput: readout input_times_gradient, own neuron carries the activation" \
    '[ "$(echo "$out" | json "d[\"readout\"] + str(int(abs(d[\"latent_relevance\"][7] - d[\"start_value\"]) <= 1e-5 * max(1, abs(d[\"start_value\"]))))")" = input_times_gradient1 ]'
out=$($BIN neurons "$P" --method gradient --format json)
check "neurons --method gradient: readout field, relevance = norms (not negative)" \
    '[ "$(echo "$out" | json "d[\"readout\"] + str(int(min(n[\"relevance\"] for n in d[\"neurons\"]) >= 0))")" = gradient_l2_norm1 ]'
check "baselines carry no readout field" \
    '[ "$($BIN explain "$P" --method occlusion --format json | json "\"readout\" in d")" = False ]'

# ---- 11. output files: umask, existing mode, symbolic links, atomic ----
mode() { stat -c %a "$1"; }
(umask 022 && $BIN explain --ids 1,5 -o "$tmp/new.txt")
check "a new -o file gets 0666 minus the umask (022 -> 644): $(mode "$tmp/new.txt")" '[ "$(mode "$tmp/new.txt")" = 644 ]'
(umask 077 && $BIN explain --ids 1,5 -o "$tmp/private.txt")
check "umask 077 -> 600: $(mode "$tmp/private.txt")" '[ "$(mode "$tmp/private.txt")" = 600 ]'
chmod 640 "$tmp/new.txt"
(umask 022 && $BIN explain --ids 1,6 --format json -o "$tmp/new.txt")
check "overwriting keeps the existing mode (640): $(mode "$tmp/new.txt")" '[ "$(mode "$tmp/new.txt")" = 640 ]'
check "overwriting wrote the new content" '[ "$(json "d[\"ids\"]" <"$tmp/new.txt")" = "[1, 6]" ]'
mkdir -p "$tmp/real" "$tmp/links"
echo old >"$tmp/real/target.json"
chmod 604 "$tmp/real/target.json"
ln -s ../real/target.json "$tmp/links/out.json"
$BIN explain --ids 1,7 --format json -o "$tmp/links/out.json"
check "-o through a symlink: the link stays a link" '[ -L "$tmp/links/out.json" ]'
check "-o through a symlink: its target gets the output" '[ "$(json "d[\"ids\"]" <"$tmp/real/target.json")" = "[1, 7]" ]'
check "-o through a symlink: the target keeps its mode" '[ "$(mode "$tmp/real/target.json")" = 604 ]'
check "no temporary file left in either folder" '[ "$(ls -A "$tmp/real"; ls -A "$tmp/links")" = "$(printf "target.json\nout.json")" ]'
ln -s ../real/dangling.json "$tmp/links/dangling.json"
$BIN explain --ids 1,8 --format json -o "$tmp/links/dangling.json"
check "-o through a dangling symlink creates its target" '[ -L "$tmp/links/dangling.json" ] && [ -f "$tmp/real/dangling.json" ]'
ln -s ../real/heat.png "$tmp/links/heat.png"
$BIN explain --model models/vit-fashion --pixels data/fashion/4-coat.png --format png -o "$tmp/links/heat.png"
check "PNG heatmaps go through the same writer (link kept, target written)" \
    '[ -L "$tmp/links/heat.png" ] && [ "$(head -c 4 "$tmp/real/heat.png" | od -An -c | tr -d " ")" = "211PNG" ]'
echo keep >"$tmp/keep.txt"
$BIN explain --ids 1,99999 -o "$tmp/keep.txt" 2>/dev/null
check "a failed run leaves an existing file as it was" '[ "$(cat "$tmp/keep.txt")" = keep ]'

# ---- 12. every command of the README's sh blocks (and its indented examples) runs as printed ----
# Run in a scratch copy of the layout so that files the commands write (explanation.html, heat.png,
# docs/*.svg) land there; ../shared is reached through the same relative path.
mkdir -p "$tmp/readme/repo/docs"
for f in build build-san models data tools tests Makefile src include deps.txt; do
    [ -e "$f" ] && ln -s "$ROOT/$f" "$tmp/readme/repo/$f"
done
[ -d ../shared ] && ln -s "$(cd .. && pwd)/shared" "$tmp/readme/shared"
skipped=()
shortened=0
n_run=0
assigns=""
while IFS= read -r line; do
    if [ "$line" = "#BLOCK" ]; then assigns=""; continue; fi
    if [[ "$line" =~ ^[A-Za-z_][A-Za-z_0-9]*= ]]; then assigns="$assigns$line; "; continue; fi
    cmd=${line//\.\/build\/attnlrp/$ROOT/$BIN}
    # commands that need what a test cannot have: listed, not run
    case "$line" in
        "make test"*) skipped+=("$line (the whole suite: it runs this test)"); continue ;;
        "make deps && make && "*)
            if [ "$(id -u)" != 0 ] || [ "$BUILD" != build ]; then
                skipped+=("$line (needs root and the gcc build)"); continue
            fi
            cmd="cd '$ROOT' && ${line/.\/build\/attnlrp/./build/attnlrp}" ;;
    esac
    # eval over a whole data set takes minutes: the first 3 records unless README_FULL=1 (test_sentiment_model.sh
    # and test_t5_cli.sh run their eval commands in full)
    if [[ "$line" == *" eval "* && "$line" != *"--limit"* && "${README_FULL:-0}" != 1 ]]; then
        cmd="$cmd --limit 3"
        shortened=$((shortened + 1))
    fi
    need=""
    for w in $assigns $line; do
        w=${w//\"/}
        w=${w#*=}
        w=${w%;}
        case "$w" in ../shared/*|data/*|models/*|docs/*) [ -e "$tmp/readme/repo/$w" ] || [ -e "$(dirname "$tmp/readme/repo/$w")" ] || need=$w ;; esac
        case "$w" in data/fashion_eval.jsonl) [ -d data/fashion/t10k ] || need="data/fashion/t10k (tools/fashion_images.py)" ;; esac
    done
    if [ -n "$need" ]; then skipped+=("$line (needs $need)"); continue; fi
    out=$(cd "$tmp/readme/repo" && eval "$assigns$cmd" 2>&1 </dev/null)
    st=$?
    n_run=$((n_run + 1))
    if [ $st = 0 ]; then ok; else bad "README command exits $st: $line: $(printf '%s\n' "$out" | tail -n 2)"; fi
done < <(awk '/^```sh$/ {on = 1; print "#BLOCK"; next} /^```/ {on = 0} on' README.md |
             grep -E '^(#BLOCK$|\./build/attnlrp |attnlrp |make( |$)|[A-Za-z_][A-Za-z_0-9]*=)';
         echo "#BLOCK"; grep -E '^    \./build/attnlrp ' README.md | sed 's/^    //')
echo "README commands: $n_run run ($shortened eval commands on their first 3 records; README_FULL=1 runs them whole)"
check "the README has commands to run ($n_run run)" '[ $n_run -ge 20 ]'
for s in "${skipped[@]}"; do echo "README command skipped: $s"; done
check "the README no longer shows ids that fail on the shipped model" '! grep -qE -- "--ids (1,306,4658,278|15496,995)" README.md'

# ---- 13. "--" ends the options ----
out=$($BIN explain --format json -- "-5 is" | json "d[\"tokens\"][1]")
check "explain -- TEXT starting with -: $out" '[ "$out" = "-" ]'
check "generate -- TEXT starting with -" '$BIN generate -n 1 -- "-Leo" >/dev/null'
check "neurons -- TEXT starting with -" '$BIN neurons --top 1 -- "-Leo" >/dev/null'
expect 2 'attnlrp: explain: more than one TEXT argument (quote the text)' -- $BIN explain "$P" -- "-x"

# ---- 14. --set takes finite numbers only ----
for v in nan inf -inf "*nan" "+inf" 1e39; do
    expect 2 "attnlrp: --set 1:2=$v: the value must be a finite number" -- $BIN explain "$P" --set "1:2=$v"
done
expect 2 'attnlrp: --set 1:2=nan: the value must be a finite number' -- $BIN generate "$P" --set 1:2=nan

# ---- 15. every bad argument exits 2 ----
nP=$($BIN tokenize --format json "$P" | json 'len(d["ids"])')
expect 2 "attnlrp: --position 99: out of range for $nP tokens (0..$((nP - 1)))" -- $BIN explain "$P" --position 99
expect 2 'attnlrp: --target-id 99999: out of range (vocabulary size 1475)' -- $BIN explain "$P" --target-id 99999
expect 2 'attnlrp: --set 9:1: layer 9 out of range (0..3)' -- $BIN explain "$P" --set 9:1=0
expect 2 'attnlrp: --set 0:999: neuron 999 out of range (0..191)' -- $BIN generate "$P" --set 0:999=0
expect 2 'attnlrp: --layer 9: out of range (0..3 or all)' -- $BIN neurons "$P" --layer 9
expect 2 "attnlrp: --position 99: out of range for $nP tokens (0..$((nP - 1)))" -- $BIN neurons "$P" --position 99
expect 1 "attnlrp: --plot $tmp/no/such/dir/c.svg: cannot create file: No such file or directory" -- \
    $BIN eval --data data/eval.jsonl --limit 1 --plot "$tmp/no/such/dir/c.svg"

# ---- 16. flags that would be ignored are refused; a latent start carries no target ----
expect 2 'attnlrp: --top: only with --explain' -- $BIN generate "$P" -n 1 --top 5
expect 2 'attnlrp: --method: only with --explain' -- $BIN generate "$P" -n 1 --method cplrp
expect 2 'attnlrp: --steps: only with --explain' -- $BIN generate "$P" -n 1 --steps 4
expect 2 'attnlrp: --all-logits: only with --format json (text and html show the top 5)' -- $BIN explain "$P" --all-logits
expect 2 'attnlrp: --latent-start: starts at a neuron, not at an output: drop --target' -- $BIN explain "$P" --latent-start 1,2,3 --target " Rex"
expect 2 'attnlrp: --latent-start: starts at a neuron, not at an output: drop --target-id' -- $BIN explain "$P" --latent-start 1,2,3 --target-id 5
expect 2 'attnlrp: --latent-start: starts at a neuron, not at an output: drop --contrast' -- $BIN explain "$P" --latent-start 1,2,3 --contrast 5
out=$($BIN explain "$P" --latent-start 1,2,3 --format json)
check "JSON of a latent start has no target fields" '[ "$(echo "$out" | json "sorted(k for k in d if k.startswith(\"target\"))")" = "[]" ]'
check "generate --explain --top still works" '$BIN generate "$P" -n 1 --explain --top 2 >/dev/null'

# ---- 17. help, version, --flag=value, colour, info ----
# Every option a command compares its arguments against (in its source) appears in its --help.
flags_of() { grep -oE 'strcmp\((o|opt|argv\[i\]), "-[-a-zA-Z]+"\)' | grep -oE '"-[-a-zA-Z]+"' | tr -d '"' | sort -u; }
for c in explain generate neurons eval info tokenize detokenize neuron scan batch merge; do
    case $c in
        tokenize) src=$(sed '/^int cmd_detokenize/,$d' src/cli/cmd_tokenize.c) ;;
        detokenize) src=$(sed -n '/^int cmd_detokenize/,$p' src/cli/cmd_tokenize.c) ;;
        *) src=$(cat src/cli/cmd_$c.c) ;;
    esac
    flags=$(printf '%s\n' "$src" | flags_of)
    if printf '%s\n' "$src" | grep -q 'cli_method_option('; then
        flags="$flags $(flags_of <src/cli/args.c)"
    fi
    help=$($BIN $c --help)
    missing=""
    for f in $flags; do printf '%s\n' "$help" | grep -qE -- "(^|[^a-z-])$f([^a-z-]|\$)" || missing="$missing $f"; done
    check "$c --help lists every flag it accepts (missing:$missing)" '[ -z "$missing" ] && [ $(echo $flags | wc -w) -ge 3 ]'
    check "attnlrp help $c = attnlrp $c --help" '[ "$($BIN help $c)" = "$help" ]'
done
check "neuron --layer=3 --neuron=80 equals the spaced form" \
    '[ "$($BIN neuron --layer=3 --neuron=80 --top=3)" = "$($BIN neuron --layer 3 --neuron 80 --top 3)" ]'
check "scan --flag=value equals the spaced form" \
    '[ "$($BIN scan --data=data/eval.jsonl --layer=2 --neuron=13 --top=1 --format=json)" = "$($BIN scan --data data/eval.jsonl --layer 2 --neuron 13 --top 1 --format json)" ]'
check "attnlrp --version" '[[ "$($BIN --version)" =~ ^attnlrp\ [0-9]+\.[0-9]+\.[0-9]+$ ]]'
expect 2 'attnlrp: help: unknown command "explian" (see attnlrp --help)' -- $BIN help explian
untimed() { json '{k: v for k, v in d.items() if k != "seconds"}'; }
check "--flag=value equals --flag value" \
    '[ "$($BIN explain "$P" --format=json --method=cplrp --set=1:2=0 | untimed)" = "$($BIN explain "$P" --format json --method cplrp --set 1:2=0 | untimed)" ]'
check "--flag=value in generate, neurons, info, tokenize" \
    '$BIN generate "$P" -n 1 --format=json >/dev/null && $BIN neurons "$P" --top=2 >/dev/null && $BIN info --format=json >/dev/null && $BIN tokenize --format=json hi >/dev/null'
check "a value that looks like --x=y stays a value" \
    '[ "$($BIN explain --model models/sentiment fine --text-pair "--a=b" --format json | untimed)" = "$($BIN explain --model models/sentiment fine --text-pair=--a=b --format json | untimed)" ]'
expect 2 'attnlrp: explain: unknown option --bogus (see attnlrp explain --help)' -- $BIN explain "$P" --bogus=1
expect 2 'attnlrp: --color sometimes: expected auto, always or never' -- $BIN explain "$P" --color sometimes
esc=$'\033['
check "--color always colours a pipe" '[[ "$($BIN explain "$P" --color always)" == *"$esc"* ]]'
check "--color auto does not colour a pipe" '[[ "$($BIN explain "$P")" != *"$esc"* ]]'
# On a terminal (a pseudo-terminal here): colour unless NO_COLOR is set or TERM is dumb, or --color never.
on_tty() { $PY -c '
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(sys.argv[1], sys.argv[1:], os.environ)
out = b""
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
os.waitpid(pid, 0)
print("colour" if b"\x1b[" in out else "plain")' "$@"; }
check "a terminal gets colour" '[ "$(TERM=xterm on_tty $BIN explain "$P")" = colour ]'
check "NO_COLOR=1 on a terminal: plain" '[ "$(TERM=xterm NO_COLOR=1 on_tty $BIN explain "$P")" = plain ]'
check "TERM=dumb on a terminal: plain" '[ "$(TERM=dumb on_tty $BIN explain "$P")" = plain ]'
check "--color never on a terminal: plain" '[ "$(TERM=xterm on_tty $BIN explain "$P" --color never)" = plain ]'
info=$($BIN info)
check "info shows the context length" '[[ "$info" == *"context         128 positions"* ]]'
check "info shows the special tokens" '[[ "$info" == *"special tokens  bos 1, eos 2, pad 3; tokenizer: 0 \"<unk>\", 1 \"<s>\", 2 \"</s>\", 3 \"<pad>\""* ]]'
check "info shows whether the head is tied" '[[ "$info" == *"output head     its own weights (not tied)"* ]]'
check "info --format json: context_length, head_tied, special ids (from config.json)" \
    '[ "$($BIN info --format json | json "[d[\"context_length\"], d[\"head_tied\"], d[\"bos_token_id\"], d[\"eos_token_ids\"], d[\"pad_token_id\"]]")" = "$($PY -c "import json; c = json.load(open(\"$D/config.json\")); print([c[\"max_position_embeddings\"], c.get(\"tie_word_embeddings\", True), c[\"bos_token_id\"], [c[\"eos_token_id\"]], c[\"pad_token_id\"]])")" ]'

# ---- 18. make deps, one package list, .gitignore ----
pkgs=$(sed 's/#.*//' deps.txt | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
out=$(make -s deps DEPS_UID=1000 DPKG_QUERY=false 2>/dev/null)
st=$?
check "make deps as a user with packages missing: prints the apt-get line, fails" '[ $st != 0 ] && [ "$out" = "apt-get install -y $pkgs" ]'
out=$(make -s deps DEPS_UID=0 DPKG_QUERY=false APT_GET="echo apt-get" 2>&1)
check "make deps as root installs every missing package" '[[ "$out" == *"apt-get install -y -q --no-install-recommends $pkgs"* ]]'
check "make deps with everything installed succeeds without apt-get" \
    '[ "$(make -s deps DEPS_UID=1000 DPKG_QUERY="echo install ok installed" APT_GET=false)" = "make deps: every package of deps.txt is installed" ]'
check ".ci/run installs from deps.txt (the one list)" 'grep -q "deps.txt" .ci/run && ! grep -q "libopenblas-dev" .ci/run'
check "the README's first command does the set-up" '[ "$(awk "/^\`\`\`sh\$/ {getline; print; exit}" README.md | cut -d" " -f1-5)" = "make deps && make &&" ]'
if git rev-parse --git-dir >/dev/null 2>&1; then
    unignored=$(git status --porcelain --untracked-files=all | grep -E '^\?\? (build|build-san|build-clang)' || true)
    check "every build folder is ignored: $unignored" '[ -z "$unignored" ]'
    for d in build build-san build-clang; do
        check ".gitignore covers $d/" 'git check-ignore -q "$d/x.o"'
    done
fi
finish
