#!/usr/bin/env bash
# Writes the man page attnlrp(1) to stdout from the program's own help texts: the overview of
# `attnlrp --help` and, for every command it lists, `attnlrp help COMMAND` verbatim (so each command's
# flags are in the page and cannot drift from the program). Usage: tools/manpage.sh BIN VERSION
set -euo pipefail
bin=$1
version=$2
# roff-safe verbatim text: backslashes escaped, "-" as \- (a real minus, so flags copy as typed), a leading
# "." or "'" guarded
verbatim() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"; }
overview=$("$bin" --help)
commands=$(printf '%s\n' "$overview" | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
cat <<HEAD
.TH ATTNLRP 1 "" "attnlrp $version" "User Commands"
.SH NAME
attnlrp \- explain transformer predictions with AttnLRP
.SH SYNOPSIS
.B attnlrp
.I COMMAND
[\fIoptions\fR]
.SH DESCRIPTION
A native engine that explains transformer predictions with AttnLRP (attention-aware layer-wise
relevance propagation): one forward pass and one modified backward pass attribute a prediction to
the input tokens and to hidden neurons. The sections below are the program's own help texts.
.PP
.nf
HEAD
printf '%s\n' "$overview" | verbatim
echo ".fi"
echo ".SH COMMANDS"
for c in $commands; do
    echo ".SS $c"
    echo ".nf"
    "$bin" help "$c" | verbatim
    echo ".fi"
done
cat <<'TAIL'
.SH ENVIRONMENT
.TP
.B ATTNLRP_MODEL
the model used when \fB\-\-model\fR is not given (else the shipped default model)
.TP
.B ATTNLRP_CPU
\fBgeneric\fR forces the scalar reference kernels; \fBavx2\fR leaves out AVX-512
.TP
.B NO_COLOR
no colour in text output
.SH FILES
.TP
.I <prefix>/share/attnlrp/
the shipped models (default, sentiment, vit-fashion)
.TP
.I <prefix>/include/attnlrp.h, <prefix>/lib/libattnlrp.so
the C library (pkg-config name attnlrp)
TAIL
