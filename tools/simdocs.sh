#!/bin/sh
# Writes docs/simulations.md and its figures (docs/sim/*.svg) from the simulator's own runs:
# every scenario the simulation tests run (tests/sim, whatever scenarios they hold), one seed,
# two simulated days, drawn by the status page's SVG code (tests/sim/sim_plot.c, io/svgplot).
#   tools/simdocs.sh SIM_TEST_PROGRAM...      (make simdocs)
set -eu
dir=docs/sim
rm -rf "$dir"
mkdir -p "$dir"
for t in "$@"; do
    HORLOGE_SIM_PLOT_DIR=$dir HORLOGE_SIM_SEEDS=1 HORLOGE_SIM_DAYS=2 "$t" >/dev/null
done
# A scenario run several times (seeds, variants) keeps its last run's line, in first-run order.
awk -F'\t' '!($1 in row) { order[++n] = $1 } { row[$1] = $0 } END { for (i = 1; i <= n; i++) print row[order[i]] }' \
    "$dir/index.tsv" > "$dir/index.tmp"
mv "$dir/index.tmp" "$dir/index.tsv"
{
    cat <<'HEAD'
# horloge in simulation: offset and frequency, scenario by scenario

Each figure comes from horloge's own simulator (`tests/sim`): the real filter, selection,
discipline and reference (`core/sync`), and each upstream polled through the daemon's own
association code (`core/assoc`), drive a simulated oscillator (100 ppm off, with random-walk
wander) against simulated servers and networks for two simulated days, one seed. *True offset*
is the node's clock minus true time — what no real daemon can measure of itself; *frequency
correction* is what the discipline applies, in ppm, and its *error* the difference from what the
oscillator needed at that moment. The first hours show the clock being pulled in from 100 ppm;
the *after the warm-up* figures show the steady state the RMS figures are taken over. The plots are drawn by the same C code as the daemon's status page (`src/io/svgplot.c`).

Regenerate with `make simdocs` (it runs every scenario the simulation tests define, so a new
scenario appears here by itself). The numbers in the test output (`make sim`) and in
`docs/discipline.md` come from the same runs.

| scenario | RMS after warm-up | largest after warm-up | steps |
|---|---|---|---|
HEAD
    awk -F'\t' '{ printf "| [%s](#%s) | %.2f µs | %.1f µs | %s |\n", $1, $2, $3, $4, $7 }' "$dir/index.tsv"
    awk -F'\t' '{
        printf "\n## <a id=\"%s\"></a>%s\n\n%s. %.0f h simulated, the first %.0f h not counted: ", $2, $1, $8, $5, $6
        printf "RMS %.2f µs, largest %.1f µs%s.\n\n", $3, $4, ($7 > 0 ? ", " $7 " step(s)" : "")
        printf "![%s: true offset](sim/%s-offset.svg)\n", $1, $2
        printf "![%s: true offset after the warm-up](sim/%s-settled.svg)\n", $1, $2
        printf "![%s: frequency correction](sim/%s-frequency.svg)\n", $1, $2
        printf "![%s: frequency error after the warm-up](sim/%s-freqerror.svg)\n", $1, $2
    }' "$dir/index.tsv"
} > docs/simulations.md
echo "simdocs: docs/simulations.md, $(wc -l < "$dir/index.tsv") scenarios, $(ls "$dir"/*.svg | wc -l) figures in $dir"
