#!/bin/sh
# tools/fuzz.sh regress BIN...  replays each target's corpus (CI; seconds)
# tools/fuzz.sh run BIN...      fuzzes each target for FUZZ_SECONDS (default 60) into a scratch
#                               directory, then merges only inputs that add coverage into the corpus
set -e
mode="$1"; shift
for bin in "$@"; do
    name=$(basename "$bin" | sed 's/^fuzz_//')
    corpus="tests/fuzz/corpus/$name"
    mkdir -p "$corpus"
    if [ "$mode" = regress ]; then
        "$bin" -runs=0 "$corpus" >/tmp/fuzz-$name.log 2>&1 || { cat /tmp/fuzz-$name.log; exit 1; }
        echo "fuzz regress $name: $(ls "$corpus" | wc -l) inputs ok"
    else
        scratch=$(mktemp -d)
        "$bin" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=1500 "$scratch" "$corpus"
        "$bin" -merge=1 -use_counters=0 "$corpus" "$scratch"
        rm -rf "$scratch"
    fi
done
