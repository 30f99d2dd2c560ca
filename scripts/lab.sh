#!/usr/bin/env bash
# The synsweep lab from the shell, for demos and benchmarks (DESIGN.md, "The lab").
# Same layout as tests/common/mod.rs:
#
#   scanner ns  sswlab-NAME-s  veth NAME-s  198.18.0.1/30, route 198.19.0.0/16 via 198.18.0.2
#   target ns   sswlab-NAME-t  veth NAME-t  198.18.0.2/30, local 198.19.0.0/16 dev lo
#
# No default route anywhere; the scanner namespace's only link leads to the
# target namespace. Packets can go nowhere else.
#
# Usage:
#   scripts/lab.sh up NAME [--ports 22,80,443] [--alive-mask 0.0.0.3 [--alive-value 0.0.0.0]]
#                          [--loss PCT] [--sink] [--backlog N] [--only PORT:MASK:VALUE]...
#   (--only: PORT listens only on hosts whose address & MASK == VALUE; elsewhere it is closed)
#   scripts/lab.sh down NAME                 (idempotent)
#   scripts/lab.sh exec NAME -- cmd...       (runs cmd in the scanner namespace)
#   scripts/lab.sh counters NAME             (nftables counters of the target)
#
# `up` prints shell assignments (eval-able):
#   scanner_ns=... target_ns=... scanner_iface=... target_iface=...
#   scanner_ip=198.18.0.1 router_mac=...
# Listeners are one python3 process in the target namespace; its pid is kept
# in /run/synsweep-lab/NAME/listener.pid and `down` kills it.
set -euo pipefail

STATE_ROOT=/run/synsweep-lab
TARGET_RANGE=198.19.0.0/16
SCANNER_MAC=02:53:53:57:00:01
TARGET_MAC=02:53:53:57:00:02
LISTENER_TAG=synsweep-lab-listener

die() { echo "lab.sh: $*" >&2; exit 1; }
usage() { sed -n '11,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

check_name() {
    [[ "${1:-}" =~ ^[A-Za-z0-9_]{1,13}$ ]] ||
        die "NAME must be 1-13 characters of [A-Za-z0-9_] (got '${1:-}')"
}

names() {
    S="sswlab-$1-s"; T="sswlab-$1-t"; SI="$1-s"; TI="$1-t"; DIR="$STATE_ROOT/$1"
}

ns_exists() { [[ -e "/run/netns/$1" ]]; }

is_ipv4() {
    [[ "$1" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
    local i
    for i in 1 2 3 4; do ((BASH_REMATCH[i] <= 255)) || return 1; done
}

run() {  # run a command; on failure say which one and what it printed
    local out
    if ! out=$("$@" 2>&1); then
        die "failed: $* : $out"
    fi
}

nft_rules() {  # iface mask value loss sink only...
    local i=$1 mask=$2 value=$3 loss=$4 sink=$5
    shift 5
    local only=("$@")
    local syn='tcp flags & (fin | syn | rst | ack) == syn'
    echo "table inet synsweep_lab {"
    for c in syn_in silent_dropped syn_lost synack_out rst_out; do echo "  counter $c {}"; done
    echo "  chain input {"
    echo "    type filter hook input priority filter; policy accept;"
    echo "    iifname \"$i\" $syn counter name \"syn_in\""
    if [[ "$mask" != 0.0.0.0 ]]; then
        echo "    iifname \"$i\" ip daddr $TARGET_RANGE ip daddr & $mask != $value counter name \"silent_dropped\" drop"
    fi
    if ((loss >= 100)); then
        echo "    iifname \"$i\" $syn counter name \"syn_lost\" drop"
    elif ((loss > 0)); then
        echo "    iifname \"$i\" $syn numgen random mod 100 < $loss counter name \"syn_lost\" drop"
    fi
    local o p m v
    for o in "${only[@]}"; do  # PORT:MASK:VALUE: the port answers RST where addr & MASK != VALUE
        IFS=: read -r p m v <<<"$o"
        echo "    iifname \"$i\" tcp dport $p ip daddr & $m != $v reject with tcp reset"
    done
    echo "  }"
    echo "  chain output {"
    echo "    type filter hook output priority filter; policy accept;"
    echo "    oifname \"$i\" tcp flags & (syn | ack) == syn | ack counter name \"synack_out\""
    echo "    oifname \"$i\" tcp flags & rst == rst counter name \"rst_out\""
    echo "  }"
    echo "}"
    if ((sink)); then
        echo "table netdev synsweep_sink {"
        echo "  counter frames {}"
        echo "  chain ingress {"
        echo "    type filter hook ingress device \"$i\" priority -500; policy drop;"
        echo "    counter name \"frames\""
        echo "  }"
        echo "}"
    fi
}

# The listener: binds every port on 0.0.0.0 in the namespace it runs in,
# accepts and closes whatever completes, forever.
LISTENER_PY='
import os, selectors, socket, sys
tag, ready, backlog, ports = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
sel = selectors.DefaultSelector()
for p in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(p)))
    s.listen(backlog)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except OSError:
            pass
'

kill_listener() {
    local pidfile="$DIR/listener.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(<"$pidfile")
    # Only our own listener, never a process that reused the pid.
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$LISTENER_TAG"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do [[ -e "/proc/$pid" ]] || break; sleep 0.02; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

do_down() {
    names "$1"
    kill_listener
    local ns
    for ns in "$S" "$T"; do
        if ns_exists "$ns"; then
            run ip netns del "$ns"
        fi
    done
    rm -rf "$DIR"
}

do_up() {
    local name=$1; shift
    local ports="" mask=0.0.0.0 value=0.0.0.0 loss=0 sink=0 backlog=65535
    local only=()
    while (($#)); do
        case "$1" in
            --ports) ports=${2:?--ports needs a value}; shift 2 ;;
            --alive-mask) mask=${2:?--alive-mask needs a value}; shift 2 ;;
            --alive-value) value=${2:?--alive-value needs a value}; shift 2 ;;
            --loss) loss=${2:?--loss needs a value}; shift 2 ;;
            --backlog) backlog=${2:?--backlog needs a value}; shift 2 ;;
            --sink) sink=1; shift ;;
            --only) only+=("${2:?--only needs PORT:MASK:VALUE}"); shift 2 ;;
            *) die "up: unknown option '$1'" ;;
        esac
    done
    local port_list=()
    if [[ -n "$ports" ]]; then
        IFS=, read -r -a port_list <<<"$ports"
        local p
        for p in "${port_list[@]}"; do
            [[ "$p" =~ ^[0-9]{1,5}$ ]] && ((p >= 1 && p <= 65535)) ||
                die "--ports: '$p' is not a port (1-65535); use a list like 22,80,443"
        done
    fi
    is_ipv4 "$mask" || die "--alive-mask: '$mask' is not an IPv4 mask like 0.0.0.3"
    is_ipv4 "$value" || die "--alive-value: '$value' is not an IPv4 address like 0.0.0.0"
    [[ "$loss" =~ ^[0-9]{1,3}$ ]] && ((loss <= 100)) || die "--loss: '$loss' is not a percentage 0-100"
    [[ "$backlog" =~ ^[0-9]+$ ]] && ((backlog >= 1)) || die "--backlog: '$backlog' is not a positive number"
    command -v nft >/dev/null || die "nft not found (install the nftables package)"

    names "$name"
    if ns_exists "$S" || ns_exists "$T" || [[ -e "$DIR" ]]; then
        die "lab '$name' is already up (scripts/lab.sh down $name first)"
    fi
    # From here on, any failure tears down what was built.
    trap 'echo "lab.sh: up failed; removing lab $name" >&2; do_down "$name" >/dev/null 2>&1 || true' EXIT
    mkdir -p "$DIR"
    run ip netns add "$S"
    run ip netns add "$T"
    # The veth pair is born inside the two namespaces, never in the host's.
    run ip link add "$SI" address "$SCANNER_MAC" netns "$S" type veth \
        peer name "$TI" address "$TARGET_MAC" netns "$T"
    local ns
    for ns in "$S" "$T"; do
        run ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        run ip -n "$ns" link set lo up
    done
    run ip -n "$S" addr add 198.18.0.1/30 dev "$SI"
    run ip -n "$S" link set "$SI" up
    run ip -n "$S" route add "$TARGET_RANGE" via 198.18.0.2 dev "$SI"
    run ip -n "$S" neigh replace 198.18.0.2 lladdr "$TARGET_MAC" dev "$SI" nud permanent
    run ip -n "$T" addr add 198.18.0.2/30 dev "$TI"
    run ip -n "$T" link set "$TI" up
    run ip -n "$T" route add local "$TARGET_RANGE" dev lo
    run ip -n "$T" neigh replace 198.18.0.1 lladdr "$SCANNER_MAC" dev "$TI" nud permanent
    run ip netns exec "$T" sysctl -q -w net.core.somaxconn=65535 \
        net.ipv4.tcp_max_syn_backlog=65535 net.ipv4.tcp_syncookies=1
    local rules
    local o
    for o in "${only[@]}"; do
        [[ "$o" =~ ^[0-9]{1,5}:[0-9.]+:[0-9.]+$ ]] || die "--only: '$o' is not PORT:MASK:VALUE (e.g. 23:0.0.7.0:0.0.0.0)"
    done
    rules=$(nft_rules "$TI" "$mask" "$value" "$loss" "$sink" "${only[@]}")
    local out
    out=$(ip netns exec "$T" nft -f - <<<"$rules" 2>&1) || die "nft rules failed: $out"
    for ns in "$S" "$T"; do
        [[ -z "$(ip -n "$ns" route show default)" ]] || die "namespace $ns has a default route"
    done

    if ((${#port_list[@]})); then
        command -v python3 >/dev/null || die "python3 not found (needed for listeners)"
        local ready="$DIR/listener.pid"
        ip netns exec "$T" python3 -c "$LISTENER_PY" "$LISTENER_TAG" "$ready" "$backlog" \
            "${port_list[@]}" </dev/null >"$DIR/listener.log" 2>&1 &
        disown
        for _ in $(seq 250); do
            [[ -s "$ready" ]] && break
            sleep 0.02
        done
        [[ -s "$ready" ]] || die "listener did not start: $(cat "$DIR/listener.log")"
    fi
    printf '%s\n' "mask=$mask value=$value loss=$loss sink=$sink ports=$ports" >"$DIR/config"
    trap - EXIT
    echo "scanner_ns=$S"
    echo "target_ns=$T"
    echo "scanner_iface=$SI"
    echo "target_iface=$TI"
    echo "scanner_ip=198.18.0.1"
    echo "router_mac=$TARGET_MAC"
}

do_counters() {
    names "$1"
    ns_exists "$T" || die "lab '$1' is not up"
    ip netns exec "$T" nft list counters table inet synsweep_lab |
        awk '/counter/ {name=$2} /packets/ {print name, $2}'
    if ip netns exec "$T" nft list table netdev synsweep_sink >/dev/null 2>&1; then
        ip netns exec "$T" nft list counters table netdev synsweep_sink |
            awk '/packets/ {print "sink_frames", $2}'
    fi
}

(($# >= 1)) || usage
cmd=$1; shift
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces)"
case "$cmd" in
    up)
        (($# >= 1)) || usage
        check_name "$1"
        do_up "$@"
        ;;
    down)
        (($# == 1)) || usage
        check_name "$1"
        do_down "$1"
        ;;
    exec)
        (($# >= 3)) && [[ "$2" == -- ]] || usage
        check_name "$1"
        names "$1"
        ns_exists "$S" || die "lab '$1' is not up"
        shift 2
        exec ip netns exec "$S" "$@"
        ;;
    counters)
        (($# == 1)) || usage
        check_name "$1"
        do_counters "$1"
        ;;
    -h | --help | help) usage ;;
    *) die "unknown command '$cmd' (up, down, exec, counters)" ;;
esac
