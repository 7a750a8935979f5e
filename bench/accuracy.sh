#!/bin/sh
# Clock accuracy in simulation: builds the scenario program, runs it with more
# seeds and/or longer runs, and prints every scenario's RMS and max offset, the
# frequency estimate's RMS and max error, and the clock's rate error (its
# frequency excursion over each second, slews included: what clients and
# interval-measuring applications see), beside chronyd's and NTPsec's RMS
# offset for the same conditions where known (clknetsim, docs/discipline.md).
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
echo "(offset RMS: over seeds of each run's RMS; max: largest of any run; freq: the frequency"
echo " estimate's error; rate: the clock's rate error over each second, slews included)"
echo
echo "$out" | awk '
/^SIM scenario=/ && /rms_us=/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    if (!header) {
        fmt = "%-36s %8s %8s %9s %9s %9s %9s %8s %7s\n"
        printf fmt, "scenario", "RMS us", "max us", "freq RMS", "freq max", "rate RMS", "rate max", "chronyd", "NTPsec"
        printf fmt, "", "", "", "ppm", "ppm", "ppm", "ppm", "RMS us", "RMS us"
        header = 1
    }
    printf fmt, f["scenario"], f["rms_us"], f["max_us"], f["freq_rms_ppm"], f["freq_max_ppm"], f["rate_rms_ppm"], f["rate_max_ppm"], f["chrony_us"], f["ntpsec_us"]
    next
}
/^SIM scenario=/ { other[++n] = $0 }
END {
    if (n) {
        print ""
        print "step responses, start-up, outages and other figures:"
        for (i = 1; i <= n; i++) { sub(/^SIM /, "  ", other[i]); print other[i] }
    }
}'
