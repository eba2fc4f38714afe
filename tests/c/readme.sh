#!/bin/sh
# README.md's C snippet, as a reader runs it: the ```c block of its "## C" section saved as
# app.c, then the ```sh block after it run line for line in a fresh folder, with PREFIX set
# to a temporary folder (and `make` run in the repository). The program must build with the
# README's pkg-config line, run on a fresh store, print the deployment it made, run again
# on the same store, and exit non-zero (with the error on stderr) when the store cannot
# open. Also: `make install` runs ldconfig only for system prefixes, never with DESTDIR.
#   usage: readme.sh MAKE
set -eu
make=$1
repo=$(pwd)
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail() { echo "readme: FAIL: $*" >&2; exit 1; }

awk '/^## C$/ { in_c = 1; next } /^## / { in_c = 0 }
     in_c && /^```c$/ && !done_c { grab = 1; next }
     grab && /^```$/ { grab = 0; done_c = 1; next }
     grab { print }' README.md > "$tmp/app.c"
awk '/^## C$/ { in_c = 1; next } /^## / { in_c = 0 }
     in_c && /^```sh$/ && !done_sh { grab = 1; next }
     grab && /^```$/ { grab = 0; done_sh = 1; next }
     grab { print }' README.md > "$tmp/steps.sh"
[ -s "$tmp/app.c" ] || fail "no \`\`\`c block in README.md's C section"
grep -q '^PREFIX=' "$tmp/steps.sh" || fail "README.md's build steps do not start by setting PREFIX"
grep -q 'pkg-config --cflags --libs owd' "$tmp/steps.sh" || fail "README.md's build steps have no pkg-config line"

mkdir "$tmp/work" "$tmp/prefix"
cp "$tmp/app.c" "$tmp/work/app.c"
# The README's steps, verbatim but for PREFIX's value; `make` is the repository's.
{
    echo 'set -eu'
    echo "make() { command $make --no-print-directory -C '$repo' \"\$@\" > '$tmp/make.log' 2>&1 || { cat '$tmp/make.log' >&2; return 1; }; }"
    echo "unset PKG_CONFIG_PATH LD_LIBRARY_PATH"
    sed "s|^PREFIX=.*|PREFIX='$tmp/prefix'|" "$tmp/steps.sh"
} > "$tmp/run.sh"
(cd "$tmp/work" && sh "$tmp/run.sh" > "$tmp/out1" 2> "$tmp/err1") \
    || { cat "$tmp/err1" >&2; fail "README.md's steps failed"; }
[ -f "$tmp/prefix/lib/libowd.so.0" ] || fail "make install PREFIX=... installed no lib/libowd.so.0"
ldd "$tmp/work/app" | grep -q "$tmp/prefix/lib/libowd.so.0" || fail "app does not load the installed libowd.so.0"
grep -q '"Deployments": \[' "$tmp/out1" && grep -q '"Name": "configure"' "$tmp/out1" && grep -q '"Status": "running"' "$tmp/out1" \
    || { cat "$tmp/out1" >&2; fail "app printed no running configure deployment"; }
[ "$(stat -c %a "$tmp/work/deployments.owd")" = 600 ] || fail "deployments.owd is not mode 0600"
# Again on the same store: a second stack, its own deployment.
(cd "$tmp/work" && ./app > "$tmp/out2" 2> "$tmp/err2") || { cat "$tmp/err2" >&2; fail "a second run failed"; }
[ "$(grep -c '"DeploymentId"' "$tmp/out2")" = 1 ] || fail "the second run did not list one deployment of its stack"
# A store that cannot open: non-zero, and why on stderr.
rm "$tmp/work/deployments.owd"
mkdir "$tmp/work/deployments.owd"
if (cd "$tmp/work" && ./app > "$tmp/out3" 2> "$tmp/err3"); then fail "app exited 0 although its store cannot open"; fi
grep -q 'deployments.owd' "$tmp/err3" || fail "app's error does not name the store: $(cat "$tmp/err3")"

# ldconfig: only for the prefixes named, never with DESTDIR (a recorder stands in for it).
printf '#!/bin/sh\necho ran >> "%s/ldconfig.calls"\n' "$tmp" > "$tmp/ldconfig"
chmod +x "$tmp/ldconfig"
$make --no-print-directory install PREFIX="$tmp/p1" LDCONFIG="$tmp/ldconfig" > /dev/null
[ ! -f "$tmp/ldconfig.calls" ] || fail "make install PREFIX=<tmp> ran ldconfig"
$make --no-print-directory install PREFIX=/usr/local DESTDIR="$tmp/stage" LDCONFIG="$tmp/ldconfig" > /dev/null
[ -f "$tmp/stage/usr/local/lib/libowd.so.0" ] || fail "make install DESTDIR=... PREFIX=/usr/local staged nothing"
[ ! -f "$tmp/ldconfig.calls" ] || fail "make install DESTDIR=... ran ldconfig"
$make --no-print-directory install PREFIX="$tmp/p2" LDCONFIG_PREFIXES="/usr $tmp/p2" LDCONFIG="$tmp/ldconfig" > /dev/null
[ "$(cat "$tmp/ldconfig.calls" 2>/dev/null)" = ran ] || fail "make install did not run ldconfig for a system prefix"
echo "readme: the C snippet built with README's pkg-config line against make install PREFIX=<tmp>, ran twice on a fresh store, failed non-zero on a bad store; ldconfig only for system prefixes"
