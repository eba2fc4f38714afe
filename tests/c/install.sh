#!/bin/sh
# `make install PREFIX=<tmp>` installs the header, the library with its SONAME symlinks and
# owd.pc; a C program builds against them with pkg-config alone and runs.
#   usage: install.sh MAKE CC VERSION
set -eu
make=$1
cc=$2
version=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "install: FAIL: $*" >&2; exit 1; }

$make --no-print-directory install PREFIX="$prefix" > "$prefix.log" 2>&1 || { cat "$prefix.log" >&2; rm -f "$prefix.log"; fail "make install"; }
rm -f "$prefix.log"

[ -f "$prefix/include/owd.h" ] || fail "no include/owd.h"
cmp -s include/owd.h "$prefix/include/owd.h" || fail "the installed header differs from include/owd.h"
[ -f "$prefix/lib/libowd.so.$version" ] && [ ! -L "$prefix/lib/libowd.so.$version" ] || fail "no lib/libowd.so.$version"
[ "$(readlink "$prefix/lib/libowd.so.0")" = "libowd.so.$version" ] || fail "lib/libowd.so.0 is not a symlink to libowd.so.$version"
[ "$(readlink "$prefix/lib/libowd.so")" = "libowd.so.0" ] || fail "lib/libowd.so is not a symlink to libowd.so.0"
soname=$(readelf -d "$prefix/lib/libowd.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libowd.so.0" ] || fail "SONAME is '$soname', not libowd.so.0"
[ -f "$prefix/lib/pkgconfig/owd.pc" ] || fail "no lib/pkgconfig/owd.pc"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
[ "$(pkg-config --modversion owd)" = "$version" ] || fail "pkg-config --modversion owd is not $version"
flags=$(pkg-config --cflags --libs owd) || fail "pkg-config --cflags --libs owd"
echo "install: pkg-config --cflags --libs owd: $flags"
case "$flags" in *"-I$prefix/include"*) ;; *) fail "cflags do not name $prefix/include" ;; esac

# Strict C99 and C11 with every warning: the header must not need anything else.
for std in c99 c11; do
    # shellcheck disable=SC2086
    $cc -std=$std -Wall -Wextra -Wpedantic -Werror -o "$prefix/installed-$std" tests/c/installed.c $flags \
        -Wl,-rpath,"$prefix/lib" || fail "tests/c/installed.c does not build with -std=$std"
    needed=$(readelf -d "$prefix/installed-$std" | sed -n 's/.*(NEEDED).*\[\(libowd[^]]*\)\].*/\1/p')
    [ "$needed" = "libowd.so.0" ] || fail "the program needs '$needed', not libowd.so.0"
    # Resolved from the installed copy, not the build folder.
    ldd "$prefix/installed-$std" | grep -q "$prefix/lib/libowd.so.0" || fail "libowd.so.0 does not resolve to $prefix/lib"
    "$prefix/installed-$std" || fail "the installed program failed"
done
# And the example, as a user would build it.
# shellcheck disable=SC2086
$cc -O2 -Wall -Wextra -Werror -o "$prefix/example" examples/c/deployments.c $flags -Wl,-rpath,"$prefix/lib" \
    || fail "examples/c/deployments.c does not build against the installed header"
"$prefix/example" > "$prefix/example.out" || fail "the example failed against the installed library"
grep -q 'DescribeDeployments (handles)' "$prefix/example.out" || fail "the example printed no handles section"
echo "install: header, libowd.so.$version (+ libowd.so.0, libowd.so), owd.pc installed; programs built and ran"
