#!/bin/sh
# Clock accuracy in simulation: builds the scenario program, runs it with more
# seeds and/or longer runs, and prints a table beside chronyd's and NTPsec's
# figures for the same conditions (clknetsim, docs/discipline.md).
#   usage: bench/accuracy.sh [SEEDS [DAYS]]      (defaults 5 and 2; or set
#          HORLOGE_SIM_SEEDS / HORLOGE_SIM_DAYS; B=build dir, default build)
set -e
cd "$(dirname "$0")/.."
B=${B:-build}
seeds=${1:-${HORLOGE_SIM_SEEDS:-5}}
days=${2:-${HORLOGE_SIM_DAYS:-2}}
make -s B="$B" "$B/tests/test_sim_scenarios" >/dev/null
out=$(HORLOGE_SIM_SEEDS=$seeds HORLOGE_SIM_DAYS=$days "$B/tests/test_sim_scenarios" 2>&1) || {
    echo "$out" | grep -E 'FAILED|ERROR|exceeds' >&2
    echo "accuracy: some scenario assertions failed (figures below are still measured)" >&2
}
echo "horloge simulated accuracy: $seeds seed(s), $days day(s) per run, first 8 h not counted"
echo "(RMS: over seeds of each run's RMS; max: largest of any run; freq: RMS frequency error)"
echo
echo "$out" | awk '
/^SIM scenario=/ && /rms_us=/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    if (!header) {
        printf "%-38s %10s %10s %12s %10s %10s\n", "scenario", "RMS us", "max us", "freq ppm", "chronyd", "NTPsec"
        printf "%-38s %10s %10s %12s %10s %10s\n", "--------", "------", "------", "--------", "-------", "------"
        header = 1
    }
    printf "%-38s %10s %10s %12s %10s %10s\n", f["scenario"], f["rms_us"], f["max_us"], f["freq_rms_ppm"], f["chrony_us"], f["ntpsec_us"]
    next
}
/^SIM scenario=outage/ { outage[++n] = $0 }
END {
    if (n) {
        print ""
        print "outage / holdover runs:"
        for (i = 1; i <= n; i++) { sub(/^SIM /, "  ", outage[i]); print outage[i] }
    }
}'
