#!/bin/sh
# End-to-end tests of horloged/horloge against real peers (chronyd, ntpdig, tshark).
#   tests/integration/run.sh BUILD_DIR        e.g. build or build-san
# Each tests/integration/test_*.py is run in turn with BUILD_DIR; it exits 0 (pass),
# 77 (skip) or other (fail). One line per test, then "N passed, N failed, N skipped".
# Environment: HL_TARGET=chronyd runs the protocol checks against chronyd as the server
# (to validate the tests themselves); HL_ONLY=REGEX selects tests; HL_KEEP=1 keeps temp dirs;
# HL_VERBOSE=1 prints every test's output; HL_SLOW=F scales timeouts (default 3 for *san*).
# A test whose file has the line `# hltest: plain-only` (packaging, browsers, provisioning: what a
# sanitizer build adds nothing to) runs only against a build directory not named *san*.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
case "$build" in /*) ;; *) build=$(pwd)/$build ;; esac
export HL_BUILD="$build"

passed=0; failed=0; skipped=0
out=$(mktemp /tmp/hl-run.XXXXXX)
trap 'rm -f "$out"' EXIT INT TERM

for t in "$here"/test_*.py; do
    name=$(basename "$t" .py)
    if [ -n "${HL_ONLY:-}" ] && ! echo "$name" | grep -Eq "$HL_ONLY"; then
        continue
    fi
    case "$build" in
    *san*) if grep -q '^# hltest: plain-only' "$t"; then continue; fi ;;
    esac
    # A test may ask for more than 120 s with a line `# hltest: timeout SECONDS` (building a package).
    limit=$(sed -n 's/^# hltest: timeout \([0-9][0-9]*\)$/\1/p' "$t" | head -n 1)
    start=$(date +%s)
    timeout -k 5 "${limit:-120}" python3 "$t" "$build" >"$out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS  %-28s %3ds\n' "$name" "$secs"
        [ -n "${HL_VERBOSE:-}" ] && sed 's/^/      /' "$out"
    elif [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1))
        printf 'SKIP  %-28s %3ds  %s\n' "$name" "$secs" "$(grep '^SKIP: ' "$out" | tail -n 1 | cut -c7-)"
        [ -n "${HL_VERBOSE:-}" ] && sed 's/^/      /' "$out"
    else
        failed=$((failed + 1))
        printf 'FAIL  %-28s %3ds  (exit %d)\n' "$name" "$secs" "$rc"
        sed 's/^/      /' "$out"
    fi
done

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
