#!/bin/sh
# Interleaved-mode serving benchmark (RFC 9769): in one run, horloged answering basic clients,
# horloged answering interleaved clients, and chronyd answering the same interleaved clients
# (and basic ones, for reference). Each server is pinned to one core, ntpload to the other.
# Interleaved clients are ntpload -x: one socket per client address (127.0.1.N), one request
# outstanding each, so nearly every reply is interleaved; the basic runs use the same shapes.
# Prints CPU per reply (open loop), the zero-loss rate (closed loop), the share of replies that
# were interleaved, and the target: horloged's interleaved rate >= 0.8x its basic rate.
# A report to quote, not a test. Loopback only; every process and temp dir is removed on exit.
#
# Usage: sh bench/xleave.sh [BUILD_DIR]
# Env:   RATE (open-loop req/s, 40000)  DUR (open-loop s, 2)  CDUR (closed-loop s, 2)  ROUNDS (2)
#        SHAPES ("32x1 64x1", closed-loop SOCKETSxWINDOW)  SERVER_CPU (0)  LOAD_CPU (1)  PORT
set -u

B=${1:-build}
RATE=${RATE:-40000}
DUR=${DUR:-2}
CDUR=${CDUR:-2}
ROUNDS=${ROUNDS:-2}
SHAPES=${SHAPES:-"32x1 64x1"}
SCPU=${SERVER_CPU:-0}
LCPU=${LOAD_CPU:-1}
PORT=${PORT:-$((20000 + $$ % 20000))}
CASES="horloged:basic horloged:xleave chronyd:basic chronyd:xleave"

die() { echo "xleave.sh: $*" >&2; exit 2; }
for t in horloged ntpload; do [ -x "$B/$t" ] || die "missing $B/$t (run: make)"; done
command -v chronyd >/dev/null || die "chronyd not installed"
[ "$(id -u)" -eq 0 ] || die "needs root (chronyd drops to _chrony)"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"

D=$(mktemp -d /tmp/horloge-xleave.XXXXXX) || die "mktemp failed"
chmod 711 "$D"
SPID=""
cleanup() { [ -z "$SPID" ] || { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
SETPRIV=""
command -v setpriv >/dev/null && SETPRIV="setpriv --bounding-set -sys_time"

kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# start NAME: the server on SCPU, answering before it returns (sets SPID, SPORT)
start() {
    PORT=$((PORT + 1))
    while ss -Hlun "sport = :$PORT" 2>/dev/null | grep -q .; do PORT=$((PORT + 1)); done
    SPORT=$PORT
    if [ "$1" = chronyd ]; then
        mkdir -p "$D/c" && chown _chrony:_chrony "$D/c" && chmod 750 "$D/c"
        printf 'port %s\nbindaddress 127.0.0.1\nlocal stratum 10\nallow 127.0.0.0/8\ncmdport 0\nbindcmdaddress /\npidfile %s/c/pid\n' \
            "$SPORT" "$D" >"$D/c/chrony.conf"
        taskset -c "$SCPU" $SETPRIV chronyd -x -d -f "$D/c/chrony.conf" >"$D/server.log" 2>&1 &
    else
        printf 'port %s\nlisten 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\nthreads 1\ncontrolsocket %s/sock\npidfile %s/pid\n' \
            "$SPORT" "$D" "$D" >"$D/h.conf"
        taskset -c "$SCPU" $SETPRIV "$B/horloged" -d -x -f "$D/h.conf" >"$D/server.log" 2>&1 &
    fi
    SPID=$!
    for i in $(seq 50); do
        "$B/ntpload" -q -u 0 -d 0.1 -T 100 -p "$SPORT" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail -n 5 "$D/server.log" >&2
    die "$1 did not answer"
}
stop() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=""; }

# load MODE ARGS...: one ntpload run; sets LINE and CPU (server ns on a CPU during it)
load() {
    mode=$1; shift
    x=""; [ "$mode" = xleave ] && x="-x"
    c0=$(cpu_ns "$SPID")
    LINE=$(taskset -c "$LCPU" "$B/ntpload" -q -p "$SPORT" $x "$@" 2>&1 | tail -n 1)
    CPU=$(($(cpu_ns "$SPID") - c0))
}

echo "xleave.sh: $B; server on cpu $SCPU, ntpload on cpu $LCPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "open loop $RATE req/s over 64 client sockets for ${DUR}s; closed loop $SHAPES for ${CDUR}s; $ROUNDS rounds"
: >"$D/res"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for c in $CASES; do
        name=${c%:*}; mode=${c#*:}
        start "$name"
        # -b 1: one request per socket per send, so each interleaved client waits for its reply
        load "$mode" -u 0.5 -d "$DUR" -c 64 -b 1 -r "$RATE"
        valid=$(kv "$LINE" valid)
        per=$(awk -v c="$CPU" -v n="${valid:-0}" 'BEGIN {printf "%.0f", n ? c / n : 0}')
        printf '  %-16s round %s open %6s/s  cpu %5s ns/reply  interleaved %s of %s  lost %s p99 %s us\n' \
            "$c" "$r" "$RATE" "$per" "$(kv "$LINE" interleaved)" "$valid" "$(kv "$LINE" lost)" "$(kv "$LINE" p99_us)"
        echo "$c open $per" >>"$D/res"
        for s in $SHAPES; do
            load "$mode" -u 0.3 -d "$CDUR" -c "${s%x*}" -w "${s#*x}"
            rate=$(kv "$LINE" rate); lost=$(kv "$LINE" lost); bad=$(kv "$LINE" invalid)
            valid=$(kv "$LINE" valid); il=$(kv "$LINE" interleaved)
            printf '  %-16s round %s closed %-5s %7s/s  lost %s invalid %s  interleaved %s of %s\n' \
                "$c" "$r" "$s" "$rate" "$lost" "$bad" "$il" "$valid"
            [ "$lost" = 0 ] && [ "$bad" = 0 ] && echo "$c zl ${rate:-0} $il $valid" >>"$D/res"
        done
        stop
    done
    r=$((r + 1))
done

best() { awk -v c="$1" -v k="$2" -v f="${3:-3}" '$1 == c && $2 == k { if (!n || $3 > v) { v = $3; o = $f }; n++ } END { if (n) print o }' "$D/res"; }
low() { awk -v c="$1" '$1 == c && $2 == "open" && $3 > 0 { if (!n || $3 < v) v = $3; n++ } END { if (n) print v }' "$D/res"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
echo
printf '%-18s %12s %16s %14s\n' case "CPU/reply" "zero-loss rate" "interleaved"
for c in $CASES; do
    il=$(best "$c" zl 4); n=$(best "$c" zl 5)
    share=$(awk -v a="${il:-0}" -v b="${n:-0}" 'BEGIN { printf "%.0f%%", b ? 100 * a / b : 0 }')
    printf '%-18s %9s ns %14s/s %14s\n' "$c" "$(low "$c")" "$(best "$c" zl)" "$share"
done
hx=$(best horloged:xleave zl); hb=$(best horloged:basic zl); cx=$(best chronyd:xleave zl)
rx=$(ratio "$hx" "$hb")
echo "(CPU/reply: lowest open-loop figure over the rounds; zero-loss rate: the highest closed-loop"
echo " rate without loss; interleaved: the share of that run's replies that were interleaved)"
echo
echo "horloged interleaved / horloged basic rate: ${rx}x (target >= 0.8x:" \
    "$(awk -v r="$rx" 'BEGIN { print (r != "n/a" && r >= 0.8) ? "PASS" : "MISS" }'))"
echo "horloged interleaved / chronyd interleaved rate: $(ratio "$hx" "$cx")x"
