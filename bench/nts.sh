#!/bin/sh
# NTS serving benchmark: the highest request rate horloged serves with zero loss, plain NTP and
# NTS (RFC 8915: cookie opened, request checked, reply sealed with a fresh cookie, each time), and
# chronyd's NTS rate beside it. Each server pinned to one core, ntpload to the other. A report to
# quote, not a test (see bench/README.md). Loopback only; every process and temp dir is removed on exit.
#
# For each server and mode: a closed-loop run finds its capacity C, then open-loop runs at
# 0.9 C, 0.8 C, ... (DUR s each) until one loses nothing; that rate is the result.
# Targets: horloged NTS >= 0.5 x horloged plain, and >= chronyd NTS.
#
# Usage: sh bench/nts.sh [BUILD_DIR]
# Env:   DUR (open-loop s, 3)  CDUR (closed-loop s, 2)  SERVER_CPU (0)  LOAD_CPU (1)  PORT (base port)
set -u

B=${1:-build}
DUR=${DUR:-3}
CDUR=${CDUR:-2}
SCPU=${SERVER_CPU:-0}
LCPU=${LOAD_CPU:-1}
PORT=${PORT:-$((20000 + $$ % 20000))}

die() { echo "nts.sh: $*" >&2; exit 2; }
for t in ntpload horloged; do [ -x "$B/$t" ] || die "missing $B/$t (run: make)"; done
command -v openssl >/dev/null || die "the openssl CLI is needed for the test certificate"
command -v chronyd >/dev/null || die "chronyd is not installed"
[ "$(id -u)" -eq 0 ] || die "chronyd needs root here (it drops to _chrony)"
[ "$(nproc)" -ge 2 ] || die "needs 2 cores (server on $SCPU, load on $LCPU)"

. "$(dirname "$0")/common.sh"
bench_tmpdir nts-bench
next_port() {
    PORT=$((PORT + 1))
    while ss -Hln "sport = :$PORT" 2>/dev/null | grep -q .; do PORT=$((PORT + 1)); done
}

# A throw-away CA and a certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/ca.key" -out "$D/ca.pem" \
    -days 1 -subj "/CN=bench CA" >/dev/null 2>&1 || die "openssl (CA) failed"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/srv.key" -out "$D/srv.csr" \
    -subj "/CN=127.0.0.1" >/dev/null 2>&1 || die "openssl (key) failed"
printf 'subjectAltName=IP:127.0.0.1\n' >"$D/ext"
openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -out "$D/srv.pem" \
    -days 1 -extfile "$D/ext" >/dev/null 2>&1 || die "openssl (certificate) failed"
chmod 644 "$D/srv.key" "$D/srv.pem" "$D/ca.pem"

# write_conf NAME: the server's configuration, NTS on, in its own syntax
write_conf() {
    if [ "$1" = chronyd ]; then
        printf 'bindaddress 127.0.0.1\nallow 127.0.0.0/8\ncmdport 0\nbindcmdaddress /\n'
    else
        printf 'listen 127.0.0.1\nthreads 1\ncontrolsocket %s\n' "$D/$1/sock"
    fi
    printf 'port %s\nlocal stratum 10\npidfile %s\n' "$SPORT" "$D/$1/pid"
    printf 'ntsservercert %s\nntsserverkey %s\nntsport %s\nntsdumpdir %s\n' "$D/srv.pem" "$D/srv.key" "$KPORT" "$D/$1"
}

# start NAME -> SPID, SPORT (NTP), KPORT (NTS-KE)
start() {
    next_port; SPORT=$PORT; next_port; KPORT=$PORT
    mkdir -p "$D/$1"
    write_conf "$1" >"$D/$1/conf"
    if [ "$1" = chronyd ]; then
        chown _chrony:_chrony "$D/$1"
        taskset -c "$SCPU" $SETPRIV chronyd -x -d -f "$D/$1/conf" >"$D/$1/log" 2>&1 &
    else
        taskset -c "$SCPU" $SETPRIV "$B/horloged" -d -x -f "$D/$1/conf" >"$D/$1/log" 2>&1 &
    fi
    SPID=$!
    PIDS="$PIDS $SPID"
    i=0
    while [ $i -lt 50 ]; do
        "$B/ntpload" -q -u 0 -d 0.1 -T 100 -p "$SPORT" -N "$KPORT" -A "$D/ca.pem" >/dev/null 2>&1 && return 0
        sleep 0.1; i=$((i + 1))
    done
    tail -n 5 "$D/$1/log" >&2
    die "$1 did not serve NTS on 127.0.0.1:$SPORT (NTS-KE $KPORT)"
}

stop() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }

# zero_loss [NTS ARGS]: prints the highest open-loop rate served without loss
zero_loss() {
    line=$(taskset -c "$LCPU" "$B/ntpload" -q -p "$SPORT" -c 4 -w 16 -d "$CDUR" "$@")
    cap=$(kv "$line" rate); cap=${cap%.*}
    [ -n "$cap" ] && [ "$cap" -gt 0 ] || { echo 0; return; }
    for pct in 90 80 70 60 50 40 30 20 10; do
        rate=$((cap * pct / 100))
        line=$(taskset -c "$LCPU" "$B/ntpload" -q -p "$SPORT" -c 4 -r "$rate" -d "$DUR" -T 500 "$@")
        if [ "$(kv "$line" lost)" = 0 ] && [ "$(kv "$line" invalid)" = 0 ]; then
            echo "$rate"; return
        fi
    done
    echo 0
}

start horloged
H_PLAIN=$(zero_loss)
H_NTS=$(zero_loss -N "$KPORT" -A "$D/ca.pem")
stop
start chronyd
C_NTS=$(zero_loss -N "$KPORT" -A "$D/ca.pem")
stop

verdict() { [ "$1" -ge "$2" ] && echo PASS || echo MISS; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b ? a / b : 0}'; }
echo "zero-loss rates (req/s), server on CPU $SCPU, ntpload on CPU $LCPU:"
printf '  horloged plain NTP  %8d\n  horloged NTS        %8d\n  chronyd NTS         %8d\n' "$H_PLAIN" "$H_NTS" "$C_NTS"
printf '  NTS / plain       = %s (target >= 0.5: %s)\n' "$(ratio "$H_NTS" "$H_PLAIN")" "$(verdict $((H_NTS * 2)) "$H_PLAIN")"
printf '  NTS / chronyd NTS = %s (target >= 1: %s)\n' "$(ratio "$H_NTS" "$C_NTS")" "$(verdict "$H_NTS" "$C_NTS")"
