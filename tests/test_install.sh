#!/usr/bin/env bash
# make install into a staging DESTDIR: the files in their places (program, libattnlrp.so with its soname
# and links, header, attnlrp.pc, man page, models), only the public API exported, a small C program built
# with `pkg-config --cflags --libs attnlrp` against the staged tree that opens the installed default
# model and explains (values equal to the installed program's JSON), the man page holding every flag of
# every command's help, and make uninstall leaving nothing behind.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

BUILD=${BUILD:-build}
san=()
cflags_san=()
if [ "$BUILD" = build-san ]; then san=(SAN=1); cflags_san=(-fsanitize=address,undefined); fi
stage=$tmp/stage
# the PREFIX the build was configured with (its data directory is compiled in): the one attnlrp.pc names
prefix=$(sed -n 's/^prefix=//p' "$BUILD/attnlrp.pc" 2>/dev/null)
prefix=${prefix:-/usr/local}
root=$stage$prefix
version=$("$BIN" --version | awk '{print $2}')

if make -s install DESTDIR="$stage" PREFIX="$prefix" BUILD="$BUILD" "${san[@]}" >"$tmp/make.log" 2>&1; then ok; else bad "make install: $(tail -5 "$tmp/make.log")"; fi
for f in bin/attnlrp "lib/libattnlrp.so.$version" include/attnlrp.h lib/pkgconfig/attnlrp.pc share/man/man1/attnlrp.1 \
         share/attnlrp/default/config.json share/attnlrp/default/tokenizer.json share/attnlrp/sentiment/config.json; do
    check "installed $f" "[ -f '$root/$f' ]"
done
check "libattnlrp.so.0 -> the real name" "[ \"\$(readlink '$root/lib/libattnlrp.so.0')\" = libattnlrp.so.$version ]"
check "libattnlrp.so -> the real name" "[ \"\$(readlink '$root/lib/libattnlrp.so')\" = libattnlrp.so.$version ]"
soname=$(readelf -d "$root/lib/libattnlrp.so.$version" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
check "soname libattnlrp.so.0 (got $soname)" '[ "$soname" = libattnlrp.so.0 ]'
# Only the public API is exported: every defined dynamic symbol is attnlrp_*, and every function of the
# header is among them.
exported=$(nm -D --defined-only "$root/lib/libattnlrp.so.$version" | awk '$2 ~ /[TDBRW]/ {print $3}' | sort)
leaked=$(printf '%s\n' "$exported" | grep -v '^attnlrp_' | grep -v '^_' | head -5)
check "no internal symbol exported (${leaked//$'\n'/ })" '[ -z "$leaked" ]'
declared=$(sed -n 's/^ATTNLRP_API [^(]*[ *]\(attnlrp_[a-z_]*\)(.*/\1/p' include/attnlrp.h | sort)
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
check "every declared function exported (missing: ${missing//$'\n'/ })" '[ -z "$missing" ] && [ -n "$declared" ]'

# pkg-config against the staged tree (the sysroot prefixes its -I and -L paths)
export PKG_CONFIG_LIBDIR=$root/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage
check "pkg-config --modversion = attnlrp --version" '[ "$(pkg-config --modversion attnlrp)" = "$version" ]'
cat > "$tmp/prog.c" <<'PROG'
// Opens the default model, explains a prompt, prints the target id and every relevance value.
#include <attnlrp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    attnlrp_session *s;
    if (attnlrp_open(NULL, 1, &s) != ATTNLRP_OK) return fprintf(stderr, "open: %s\n", attnlrp_last_error()), 1;
    char path[4096];
    size_t n;
    attnlrp_model_path(s, path, sizeof path, &n);
    printf("%s\n", path);
    attnlrp_result *r;
    if (attnlrp_explain(s, argc > 1 ? argv[1] : "", NULL, &r) != ATTNLRP_OK)
        return fprintf(stderr, "explain: %s\n", attnlrp_last_error()), 1;
    attnlrp_summary sm = {.size = sizeof sm};
    attnlrp_result_summary(r, &sm);
    printf("%d\n", sm.target);
    attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, NULL, 0, &n);
    float *rel = malloc(n * sizeof *rel);
    attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, rel, n, &n);
    for (size_t i = 0; i < n; i++) printf("%.9g\n", rel[i]);
    free(rel);
    attnlrp_result_free(r);
    attnlrp_session_free(s);
    printf("%s\n", attnlrp_version());
    return 0;
}
PROG
flags=$(pkg-config --cflags --libs attnlrp)
check "pkg-config flags name the staged tree ($flags)" '[[ "$flags" == *"-I$root/include"* && "$flags" == *"-L$root/lib"* ]]'
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic "${cflags_san[@]}" "$tmp/prog.c" -o "$tmp/prog" $flags 2>"$tmp/cc.log"; then
    ok
else
    bad "compiling against the installed header and library: $(head -5 "$tmp/cc.log")"
fi
unset ATTNLRP_MODEL
P="Leo's dog is called"
out=$(LD_LIBRARY_PATH=$root/lib "$tmp/prog" "$P" 2>&1)
check "the program opens the installed default model (got: $(printf '%s' "$out" | head -2))" \
    '[ "$(printf "%s\n" "$out" | head -1)" = "$root/lib/../share/attnlrp/default" ]'
check "the program ends with the library version" '[ "$(printf "%s\n" "$out" | tail -1)" = "$version" ]'
json=$(cd "$tmp" && "$root/bin/attnlrp" explain --format json "$P" 2>&1)
cmp=$(printf '%s\n' "$out" | "$PY" -c '
import json, sys
lines = sys.stdin.read().split("\n")
doc = json.loads(sys.argv[1])
target, rel = int(lines[1]), [float(x) for x in lines[2:2 + len(doc["relevance"])]]
ok = target == doc["target"] and len(rel) == len(doc["relevance"]) and all(abs(a - b) <= 1e-6 * max(1, abs(b)) for a, b in zip(rel, doc["relevance"]))
print("same" if ok else "differ: %s %s / %s %s" % (target, rel, doc["target"], doc["relevance"]))' "$json" 2>&1)
check "the program's values equal the installed attnlrp's JSON ($cmp)" '[ "$cmp" = same ]'

# the README's C example, built the way the README says, against the staged tree
awk '/^```c$/ {on = 1; next} /^```/ {on = 0} on' README.md > "$tmp/readme.c"
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic "${cflags_san[@]}" "$tmp/readme.c" -o "$tmp/readme" $flags 2>"$tmp/cc.log"; then
    lines=$(cd "$tmp" && LD_LIBRARY_PATH=$root/lib ./readme | wc -l)
    check "the README's C example prints one line per token ($lines)" '[ "$lines" = 6 ]'
else
    bad "the README's C example does not compile: $(head -5 "$tmp/cc.log")"
fi

# the man page: every flag of every command's help text is in it, and it renders without warnings
man=$root/share/man/man1/attnlrp.1
for c in $("$BIN" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'); do
    missing=""
    for f in $("$BIN" help "$c" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        grep -qF -- "${f//-/\\-}" "$man" || grep -qF -- "$f" "$man" || missing="$missing $f"
    done
    check "man page has every flag of attnlrp help $c (missing:$missing)" '[ -z "$missing" ]'
    check "man page has a section for $c" "grep -q '^\.SS $c\$' '$man'"
done
if command -v groff >/dev/null; then
    warn=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
    check "groff renders attnlrp.1 without warnings ($warn)" '[ -z "$warn" ]'
fi

if make -s uninstall DESTDIR="$stage" PREFIX="$prefix" BUILD="$BUILD" "${san[@]}" >"$tmp/make.log" 2>&1; then ok; else bad "make uninstall: $(tail -5 "$tmp/make.log")"; fi
left=$(find "$stage" \( -type f -o -type l \) | head -5)
check "make uninstall leaves no file ($left)" '[ -z "$left" ]'
finish
