#!/bin/sh
# Runs a program under valgrind memcheck: any error, or any block definitely or
# indirectly lost, fails. Prints the summary; the whole log on failure.
#   usage: memcheck.sh SUPPRESSIONS PROGRAM [ARGS...]
set -eu
supp=$1
shift
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
set +e
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-origins=yes \
    --num-callers=40 --suppressions="$supp" --log-file="$log" "$@" > "$out" 2>&1
rc=$?
set -e
summary=$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost' "$log" | sed -e 's/^==[0-9]*== *//' \
    -e 's/ (suppressed.*//' | tr -s ' ' | tr '\n' ';')
if [ "$rc" -ne 0 ]; then
    echo "memcheck: FAIL: $* exited $rc" >&2
    grep -v -E 'dwarf2|get_Form|DW_FORM|debug info' "$log" >&2 || true
    tail -n 20 "$out" >&2
    exit 1
fi
grep -q 'ERROR SUMMARY: 0 errors' "$log" || { echo "memcheck: FAIL: no clean ERROR SUMMARY for $*" >&2; exit 1; }
echo "memcheck: $* clean: $summary"
