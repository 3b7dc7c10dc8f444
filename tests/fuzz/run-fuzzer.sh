#!/bin/sh
# run-fuzzer.sh: runs a libFuzzer executable for a bounded time, as a test.
#
#   run-fuzzer.sh FUZZER ARTIFACT-DIR SEED-DIR... -- LIBFUZZER-OPTION...
#
# The seed directories are copied into a fresh temporary directory, which is
# the corpus libFuzzer reads and adds its new inputs to; it is removed
# afterwards, so the source tree is never written.  Crash, leak and timeout
# reproducers go to ARTIFACT-DIR (crash-<sha1> and so on).  The exit status
# is the fuzzer's: 0 when the time ran out without a finding.
set -eu

if [ $# -lt 3 ]; then
  echo "usage: $0 FUZZER ARTIFACT-DIR SEED-DIR... -- OPTION..." >&2
  exit 2
fi
fuzzer=$1
artifacts=$2
shift 2

work=$(mktemp -d "${TMPDIR:-/tmp}/smmp-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  cp -R "$1"/. "$work"/
  shift
done
[ $# -gt 0 ] && shift  # the "--"

mkdir -p "$artifacts"
: "${UBSAN_OPTIONS:=print_stacktrace=1}"
export UBSAN_OPTIONS

status=0
"$fuzzer" -artifact_prefix="$artifacts/" "$@" "$work" || status=$?
if [ "$status" -ne 0 ]; then
  echo "run-fuzzer.sh: $fuzzer exited with $status; reproducers in $artifacts" >&2
fi
exit "$status"
