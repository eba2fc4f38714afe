#!/bin/sh
# The dynamic symbols libowd.so exports are exactly the functions include/owd.h declares:
# none missing (a declared function a C program could not link), none extra (a Swift or
# C helper leaking into the ABI).
#   usage: check_symbols.sh include/owd.h .build/release/libowd.so
set -eu
header=$1
lib=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declared: every `owd_name(` outside comments and preprocessor lines. The one function
# pointer type, `(*owd_clock_fn)(...)`, is followed by `)`, not `(`, and so is not taken.
perl -0777 -ne '
    s{/\*.*?\*/}{ }gs;          # block comments
    s{//[^\n]*}{}g;             # line comments
    s{^\s*#[^\n]*(\\\n[^\n]*)*}{}gm;  # preprocessor lines (with continuations)
    print "$1\n" while /\b(owd_[A-Za-z0-9_]+)\s*\(/g;
' "$header" | sort -u > "$tmp/declared"

# Exported: defined dynamic symbols with global or weak binding (nm prints local ones in
# lower case: they sit in .dynsym but no program can bind to them).
nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | sed 's/@.*//' | sort -u > "$tmp/exported"

declared=$(wc -l < "$tmp/declared")
exported=$(wc -l < "$tmp/exported")
status=0
if [ "$declared" -lt 30 ]; then
    echo "check_symbols: only $declared functions found in $header: the parser is broken" >&2
    status=1
fi
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
if [ -n "$missing" ]; then
    echo "check_symbols: declared in $header but not exported by $lib:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    status=1
fi
if [ -n "$extra" ]; then
    echo "check_symbols: exported by $lib but not declared in $header:" >&2
    echo "$extra" | sed 's/^/  /' >&2
    status=1
fi
# Every declared function is a function (type T), not data.
notfunc=$(nm -D --defined-only "$lib" | awk '$3 ~ /^owd_/ && $2 != "T" { print $3 " (" $2 ")" }')
if [ -n "$notfunc" ]; then
    echo "check_symbols: exported owd_ symbols that are not functions:" >&2
    echo "$notfunc" | sed 's/^/  /' >&2
    status=1
fi
local_count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[a-z]$/' | wc -l)
if [ "$status" -eq 0 ]; then
    echo "check_symbols: $exported exported functions = $declared declared in $header" \
         "($local_count local-binding .dynsym entries are not exports)"
fi
exit "$status"
