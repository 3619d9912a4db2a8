#!/usr/bin/env bash
# The dependency order of src/ (notes/architecture.md): every #include "folder/..." in a file under
# src/FOLDER must name FOLDER itself or a folder it may depend on. One failure per offending include.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
declare -A allowed=(
    [core]=""
    [kernels]="core"
    [formats]="core"
    [ops]="core kernels"
    [tokenizer]="core formats"
    [models]="core kernels ops formats"
    [inputs]="core kernels ops formats models tokenizer"
    [explain]="core kernels ops formats models tokenizer"
    [evaluate]="core kernels ops formats models tokenizer inputs explain"
    [generate]="core kernels ops formats models tokenizer inputs explain"
    [render]="core kernels ops formats models tokenizer inputs explain evaluate generate"
    [api]="core kernels ops formats models tokenizer inputs explain evaluate generate render"
    [cli]="core kernels ops formats models tokenizer inputs explain evaluate generate render api"
)
for f in $(find src -name '*.[ch]' | sort); do
    layer=$(echo "$f" | cut -d/ -f2)
    if [ -z "${allowed[$layer]+x}" ]; then bad "$f: folder src/$layer has no place in the dependency order"; continue; fi
    n_bad=0
    while read -r dep; do
        [ "$dep" = "$layer" ] && continue
        case " ${allowed[$layer]} " in *" $dep "*) ;; *) bad "$f includes $dep/, above or beside src/$layer"; n_bad=1 ;; esac
    done < <(grep -oE '^#include "[a-z_]+/' "$f" | sed -E 's/#include "([a-z_]+)\//\1/')
    [ "$n_bad" = 0 ] && ok
done
# The public header includes only the library (never the CLI).
check_cli=$(grep -c '"cli/' include/attnlrp.h)
if [ "$check_cli" = 0 ]; then ok; else bad "include/attnlrp.h includes cli/"; fi
finish
