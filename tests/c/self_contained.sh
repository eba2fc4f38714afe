#!/bin/sh
# libowd.so carries Swift's runtime inside (-static-stdlib): it needs no libswift*, and
# programs linked against it run with the Swift toolchain's folder hidden under an empty
# tmpfs in a private mount namespace.
#   usage: self_contained.sh LIB PROGRAM...
#   SWIFT_TOOLCHAIN: the folder to hide (default: derived from `swift` on PATH, e.g. /opt/swift)
set -eu
lib=$1
shift

status=0
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "self_contained: $lib NEEDED: $(echo $needed)"
if echo "$needed" | grep -qi 'swift'; then
    echo "self_contained: FAIL: $lib needs a Swift library" >&2
    status=1
fi

toolchain=${SWIFT_TOOLCHAIN:-}
if [ -z "$toolchain" ]; then
    swift=$(command -v swift || true)
    if [ -n "$swift" ]; then
        # <toolchain>/usr/bin/swift
        toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$swift")")")")
    fi
fi
if [ -z "$toolchain" ] || [ ! -d "$toolchain" ] || [ "$toolchain" = / ]; then
    echo "self_contained: FAIL: cannot find the Swift toolchain folder (set SWIFT_TOOLCHAIN)" >&2
    exit 1
fi

resolved=$(ldd "$lib")
if echo "$resolved" | grep -q 'not found'; then
    echo "self_contained: FAIL: ldd finds unresolved libraries:" >&2
    echo "$resolved" >&2
    status=1
fi
if echo "$resolved" | grep -E -q "libswift|$toolchain/"; then
    echo "self_contained: FAIL: ldd resolves libraries from the Swift toolchain:" >&2
    echo "$resolved" >&2
    status=1
fi

# Runs "$@" with $toolchain hidden, after proving the folder really is empty in there.
hidden() {
    unshare "$@" sh -c '
        t=$1; shift
        mount -t tmpfs -o size=1m tmpfs "$t" || exit 97
        [ -z "$(ls -A "$t")" ] || exit 98
        exec "$@"' hidden "$toolchain" "$program"
}

for program in "$@"; do
    log=$(mktemp)
    # A mount namespace as root; else inside a user namespace (unprivileged).
    set +e
    hidden -m > "$log" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q -E 'unshare failed|Operation not permitted|mount:' "$log"; then
        hidden -r -m > "$log" 2>&1
        rc=$?
    fi
    set -e
    if [ "$rc" -eq 0 ]; then
        echo "self_contained: $program ran with $toolchain hidden (last line: $(tail -n 1 "$log"))"
    else
        echo "self_contained: FAIL: $program with $toolchain hidden exited $rc:" >&2
        tail -n 20 "$log" >&2
        status=1
    fi
    rm -f "$log"
done
exit "$status"
