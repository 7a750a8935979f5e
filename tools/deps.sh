#!/bin/sh
# Installs the Debian packages that building and testing horloge need, only when missing.
set -e
need=""
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || need="$need $1"; }
for p in make gcc clang libssl-dev libcmocka-dev chrony ntpsec-ntpdig tshark iproute2 python3 \
         util-linux procps openssl; do
    want "$p"
done
# chrony's own service must not run: tests start chronyd instances of their own.
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages:$need (run as root to install them)" >&2
        exit 1
    fi
    echo "deps: installing$need"
    export DEBIAN_FRONTEND=noninteractive
    # Packages must not start their services here: a system chronyd would steer this machine's clock.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
    if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
if [ -f /run/chrony/chronyd.pid ] && kill -0 "$(cat /run/chrony/chronyd.pid)" 2>/dev/null; then
    echo "deps: a system chronyd is running (pid $(cat /run/chrony/chronyd.pid)); the tests check the clock is left alone" >&2
    echo "deps: stop it first (service chrony stop)" >&2
    exit 1
fi
