# bench/common.sh: what the side-by-side bench scripts share; sourced after the script defines die().
# bench_tmpdir NAME makes $D, a private temp dir removed at exit with every process listed in $PIDS;
# $SETPRIV runs a server without CAP_SYS_TIME (as root); kv DOC KEY reads KEY=value out of DOC.
bench_tmpdir() {
    D=$(mktemp -d "/tmp/horloge-$1.XXXXXX") || die "mktemp failed"
    chmod 711 "$D"
    PIDS=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM HUP
}
bench_cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$D"
}
SETPRIV=""
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    SETPRIV="setpriv --bounding-set -sys_time"
fi
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
