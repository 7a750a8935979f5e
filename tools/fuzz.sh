#!/bin/sh
# tools/fuzz.sh regress BIN...  replays each target's corpus (CI; seconds)
# tools/fuzz.sh run BIN...      fuzzes each target for FUZZ_SECONDS (default 60) into a scratch
#                               directory, merges only inputs that add coverage into the corpus,
#                               and ends with one line per target: executions, crashes, corpus.
#                               Every target runs even after one crashes; a crash fails the run,
#                               its input kept as build-fuzz/crash-NAME-* for a regression input.
set -e
mode="$1"; shift
summary=""
crashed=0
for bin in "$@"; do
    name=$(basename "$bin" | sed 's/^fuzz_//')
    corpus="tests/fuzz/corpus/$name"
    mkdir -p "$corpus"
    if [ "$mode" = regress ]; then
        "$bin" -runs=0 "$corpus" >/tmp/fuzz-$name.log 2>&1 || { cat /tmp/fuzz-$name.log; exit 1; }
        echo "fuzz regress $name: $(ls "$corpus" | wc -l) inputs ok"
        continue
    fi
    scratch=$(mktemp -d)
    log=$(mktemp)
    crashes=0
    "$bin" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=1500 -artifact_prefix="build-fuzz/crash-$name-" \
        "$scratch" "$corpus" >"$log" 2>&1 || crashes=1
    # libFuzzer's last "#N ... DONE" or the crash's "#N" line holds the executions.
    execs=$(grep -Eo '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    rate=$(grep -Eo 'exec/s: [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
    if [ "$crashes" -ne 0 ]; then
        crashed=1
        grep -E 'ERROR|SUMMARY|artifact' "$log" | head -n 5 >&2
    fi
    "$bin" -merge=1 -use_counters=0 "$corpus" "$scratch" >/dev/null 2>&1 || true
    rm -rf "$scratch" "$log"
    line=$(printf '%-10s %10s executions %7s/s  %d crash(es)  corpus %d' "$name" "${execs:-0}" "${rate:-0}" \
        "$crashes" "$(ls "$corpus" | wc -l)")
    echo "fuzz: $line"
    summary="$summary$line
"
done
if [ "$mode" = run ]; then
    echo "fuzz summary (${FUZZ_SECONDS:-60} s each):"
    printf '%s' "$summary"
fi
exit $crashed
