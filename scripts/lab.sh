#!/usr/bin/env bash
# The synsweep lab (DESIGN.md, "The lab"): the one implementation, used by the
# demo and benchmark scripts and by the Rust tests (tests/common/mod.rs runs
# `lab.sh up` and parses what it prints).
#
# Shapes (--shape, default veth). Every namespace is fresh, no default route,
# no link out of the lab, only 198.18.0.0/15 addresses:
#
#   veth      scanner ns sswlab-NAME-s, veth NAME-s 198.18.0.1/30,
#             route 198.19.0.0/16 via 198.18.0.2 (permanent neighbour)
#             target ns sswlab-NAME-t, veth NAME-t 198.18.0.2/30,
#             local 198.19.0.0/16 dev lo (answers for all 65,536 addresses)
#             --scanners N: scanner k (k >= 1) in sswlab-NAME-sK, veth NAME-s
#             198.18.0.(4k+1)/30 to target veth tgtK 198.18.0.(4k+2)/30
#             --sources N: N more scanner addresses 198.18.2.1-198.18.2.N (/32 on
#             NAME-s; the target routes 198.18.2.0/24 back via 198.18.0.1) and
#             a counter syn_src_K of the SYNs from 198.18.2.K
#             --ipv6: IPv6 next to IPv4 on the same veth (scanner 0 only, no
#             DAD; with --sources N also 2001:2:0:2::1-N/128, routed back, and
#             counters syn6_src_K): NAME-s 2001:2:0:ff::1/64, target 2001:2:0:ff::2/64, route
#             2001:2::/64 via 2001:2:0:ff::2 (no neighbour entry: the scanner
#             finds the gateway by neighbour discovery), local 2001:2::/64
#             dev lo in the target; listeners also on [::]; --alive-mask6
#             ::3 [--alive-value6 ::]: IPv6 hosts outside it are silent
#   loopback  one namespace sswlab-NAME-s with only lo (scan 127.0.0.1; with
#             --ipv6 also ::1)
#   lan       switch ns sswlab-NAME-w with bridge br0; scanner veth NAME-s
#             198.18.1.1/24 on port p-s; --hosts N (default 12) host ns
#             sswlab-NAME-hK, eth0 with its own MAC 02:53:53:57:01:XX at a
#             scattered address of 198.18.1.0/24 on port p-hK; host K listens on
#             the ports of --ports whose index j has (K + j) % 3 != 2; every
#             other address of the /24 is unused (no ARP answer)
#   vpn       scanner ns: tun NAME-s 198.18.0.1/30 (no Ethernet header), route
#             198.19.0.0/16 dev NAME-s; tunrelay.py copies packets to tun
#             NAME-t 198.18.0.2/30 in target ns sswlab-NAME-t (as veth: local
#             198.19.0.0/16 dev lo, listeners, alive mask); --ipv6 as veth,
#             with route 2001:2::/64 dev NAME-s (no next hop on a tun)
#   twopath   scanner ns: veth NAME-a 198.18.0.1/30 to target ns sswlab-NAME-t
#             (198.18.0.2, local 198.19.0.0/17) and veth NAME-b 198.18.0.5/30 to
#             target ns sswlab-NAME-u (198.18.0.6, local 198.19.128.0/17);
#             routes 198.19.0.0/17 via 198.18.0.2, 198.19.128.0/17 via 198.18.0.6
#
# Usage:
#   scripts/lab.sh up NAME [--shape veth|loopback|lan|vpn|twopath] [--ports 22,80,443]
#                          [--alive-mask 0.0.0.3 [--alive-value 0.0.0.0]] [--loss PCT]
#                          [--sink] [--backlog N] [--queues N] [--only PORT:MASK:VALUE]...
#                          [--scanners N] [--hosts N] [--sources N] [--owner PID]
#                          [--ipv6 [--alive-mask6 ::3 [--alive-value6 ::]]]
#   (--queues: TX and RX queues of every veth, default 1; AF_XDP binds one socket per queue)
#   (--only: PORT listens only on hosts whose address & MASK == VALUE; elsewhere it is closed)
#   (--owner: the lab's daemons exit when PID is gone; `sweep` then removes the lab)
#   scripts/lab.sh down NAME                 (idempotent)
#   scripts/lab.sh exec NAME -- cmd...       (runs cmd in the scanner namespace)
#   scripts/lab.sh counters NAME [INDEX]     (nftables counters: of the target(s), summed;
#                                             INDEX: of twopath target 0 or 1 only)
#   scripts/lab.sh reset NAME                (zero the counters)
#   scripts/lab.sh sweep                     (remove labs whose --owner is gone)
#
# `up` prints shell assignments (eval-able; values never contain spaces):
#   shape=... scanner_ns=... scanner_iface=... scanner_ip=... target_ns=...
#   target_iface=... gateway_ip=... router_mac=... (veth, twopath: path 0)
#   veth, vpn --ipv6: scanner_ip6 gateway_ip6 target_range6
#   veth:    sources=N scanners=N and per scanner K: scanner_ns_K scanner_iface_K
#            target_iface_K scanner_ip_K gateway_ip_K scanner_mac_K router_mac_K
#   twopath: paths=2 and per path K: path_iface_K path_ip_K path_gateway_K
#            path_mac_K path_target_ns_K path_target_iface_K path_range_K
#   lan:     switch_ns lan_net hosts=N and per host K: host_ns_K host_ip_K
#            host_mac_K host_ports_K (comma list, may be empty)
# Daemons (one python3 listener for every namespace of the lab, the tun relay)
# keep their pid in /run/synsweep-lab/NAME/*.pid; `down` stops them.
#
# Counters (counter NAME VALUE per line): veth, vpn, loopback, twopath: in the
# target: syn_in silent_dropped syn_lost synack_out rst_out ident_syn_in
# ident_syn_lost (sink_frames in sink mode). syn_in and syn_lost count probes;
# identification's own connections open with a SYN of window 1800
# (identify::handshake::WINDOW, never a probe's), counted apart in ident_syn_*.
# lan: on the bridge's ingress, in the switch: syn_in (probe SYNs from the
# scanner), ident_syn_in, syn_blind (SYNs to an address no host has), syn_wrong_mac (SYNs to
# a host's address at another MAC), synack_out, rst_out (from the hosts),
# arp_requests (from the scanner).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The TCP window of identification's SYNs (identify::handshake::WINDOW).
IDENT_WINDOW=1800
STATE_ROOT=/run/synsweep-lab
TARGET_RANGE=198.19.0.0/16
TARGET_RANGE6=2001:2::/64
SCANNER_IP6=2001:2:0:ff::1
GATEWAY_IP6=2001:2:0:ff::2
SCANNER_MAC=02:53:53:57:00:01
TARGET_MAC=02:53:53:57:00:02
LAN_NET=198.18.1.0/24
LAN_SCANNER=198.18.1.1
NFT_TABLE=synsweep_lab
NFT_SINK_TABLE=synsweep_sink
NFT_LAN_TABLE=synsweep_lan

die() { echo "lab.sh: $*" >&2; exit 1; }
bad() { echo "lab.sh: $*" >&2; exit 2; }  # bad input
usage() { sed -n '/^# Usage:/,/^# `up` prints/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

check_name() {
    [[ "${1:-}" =~ ^[A-Za-z0-9_]{1,13}$ ]] ||
        bad "NAME must be 1-13 characters of [A-Za-z0-9_] (got '${1:-}')"
}

names() {
    NAME=$1; S="sswlab-$1-s"; T="sswlab-$1-t"; U="sswlab-$1-u"; W="sswlab-$1-w"
    SI="$1-s"; TI="$1-t"; DIR="$STATE_ROOT/$1"
}

ns_exists() { [[ -e "/run/netns/$1" ]]; }

# Every namespace of lab NAME: sswlab-NAME-X or sswlab-NAME-XN (NAME has no '-').
lab_namespaces() {
    local f n
    for f in /run/netns/"sswlab-$1-"*; do
        [[ -e "$f" ]] || continue
        n=${f#/run/netns/}
        [[ "${n#"sswlab-$1-"}" =~ ^[a-z][0-9]*$ ]] && echo "$n"
    done
    return 0
}

is_ipv4() {
    [[ "$1" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
    local i
    for i in 1 2 3 4; do ((BASH_REMATCH[i] <= 255)) || return 1; done
}

ip2int() { local IFS=.; set -- $1; echo $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4)); }

run() {  # run a command; on failure say which one and what it printed
    local out
    if ! out=$("$@" 2>&1); then
        die "failed: $* : $out"
    fi
}

new_ns() {  # create a namespace: lo up, no IPv6
    run ip netns add "$1"
    run ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    run ip -n "$1" link set lo up
}

# Turn IPv6 on in namespace $1 (new_ns turns it off), without duplicate
# address detection (addresses usable at once) and without router
# solicitations or autoconfiguration.
ipv6_on() {
    run ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=0 \
        net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.lo.disable_ipv6=0 \
        net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.all.autoconf=0 net.ipv6.conf.default.autoconf=0 \
        net.ipv6.conf.default.router_solicitations=0
}

backlog_sysctls() {
    run ip netns exec "$1" sysctl -q -w net.core.somaxconn=65535 \
        net.ipv4.tcp_max_syn_backlog=65535 net.ipv4.tcp_syncookies=1
}

# A veth pair born inside two namespaces (never in the machine's own), both
# ends up with an address; permanent neighbours both ways (no ARP needed).
#   veth NS_A IF_A MAC_A ADDR_A NS_B IF_B MAC_B ADDR_B PREFIX
veth() {
    local sa=$1 ia=$2 ma=$3 aa=$4 sb=$5 ib=$6 mb=$7 ab=$8 len=$9 q=()
    ((QUEUES > 1)) && q=(numtxqueues "$QUEUES" numrxqueues "$QUEUES")
    run ip link add "$ia" address "$ma" netns "$sa" "${q[@]}" type veth peer name "$ib" address "$mb" netns "$sb" "${q[@]}"
    run ip -n "$sa" addr add "$aa/$len" dev "$ia"
    run ip -n "$sa" link set "$ia" up
    run ip -n "$sa" neigh replace "$ab" lladdr "$mb" dev "$ia" nud permanent
    run ip -n "$sb" addr add "$ab/$len" dev "$ib"
    run ip -n "$sb" link set "$ib" up
    run ip -n "$sb" neigh replace "$aa" lladdr "$ma" dev "$ib" nud permanent
}

# nftables rules of a target namespace: counters, silent hosts, loss, --only,
# sink. Interfaces: a space-separated list.
nft_rules() {  # "ifaces" mask value loss sink only...
    local ifaces=$1 mask=$2 value=$3 loss=$4 sink=$5
    shift 5
    local only=("$@") i
    local m quoted=()
    for i in $ifaces; do quoted+=("\"$i\""); done
    if ((${#quoted[@]} == 1)); then m=${quoted[0]}; else m="{ $(IFS=,; echo "${quoted[*]}") }"; fi
    local syn="tcp flags & (fin | syn | rst | ack) == syn tcp window != $IDENT_WINDOW"
    local isyn="tcp flags & (fin | syn | rst | ack) == syn tcp window $IDENT_WINDOW"
    echo "table inet $NFT_TABLE {"
    for c in syn_in silent_dropped syn_lost synack_out rst_out ident_syn_in ident_syn_lost; do
        echo "  counter $c {}"
    done
    local k
    for ((k = 1; k <= ${SOURCES:-0}; k++)); do echo "  counter syn_src_$k {}"; done
    if ((${IPV6:-0})); then
        for ((k = 1; k <= ${SOURCES:-0}; k++)); do echo "  counter syn6_src_$k {}"; done
    fi
    echo "  chain input {"
    echo "    type filter hook input priority filter; policy accept;"
    echo "    iifname $m $syn counter name \"syn_in\""
    echo "    iifname $m $isyn counter name \"ident_syn_in\""
    for ((k = 1; k <= ${SOURCES:-0}; k++)); do
        echo "    iifname $m ip saddr 198.18.2.$k $syn counter name \"syn_src_$k\""
    done
    if ((${IPV6:-0})); then
        for ((k = 1; k <= ${SOURCES:-0}; k++)); do
            echo "    iifname $m ip6 saddr 2001:2:0:2::$k $syn counter name \"syn6_src_$k\""
        done
    fi
    if [[ "$mask" != 0.0.0.0 ]]; then
        echo "    iifname $m ip daddr $TARGET_RANGE ip daddr & $mask != $value counter name \"silent_dropped\" drop"
    fi
    if [[ -n "${MASK6:-}" ]]; then
        echo "    iifname $m ip6 daddr $TARGET_RANGE6 ip6 daddr & $MASK6 != $VALUE6 counter name \"silent_dropped\" drop"
    fi
    local s c
    for s in syn isyn; do  # the loss hits probes and identification alike
        c=syn_lost
        if [[ $s == isyn ]]; then c=ident_syn_lost; fi
        if ((loss >= 100)); then  # nft rejects `< 100` for a `mod 100` value
            echo "    iifname $m ${!s} counter name \"$c\" drop"
        elif ((loss > 0)); then
            echo "    iifname $m ${!s} numgen random mod 100 < $loss counter name \"$c\" drop"
        fi
    done
    local o p om ov
    for o in "${only[@]}"; do  # PORT:MASK:VALUE: the port answers RST where addr & MASK != VALUE
        IFS=: read -r p om ov <<<"$o"
        echo "    iifname $m tcp dport $p ip daddr & $om != $ov reject with tcp reset"
    done
    echo "  }"
    echo "  chain output {"
    echo "    type filter hook output priority filter; policy accept;"
    echo "    oifname $m tcp flags & (syn | ack) == syn | ack counter name \"synack_out\""
    echo "    oifname $m tcp flags & rst == rst counter name \"rst_out\""
    echo "  }"
    echo "}"
    if ((sink)); then
        local n=0
        echo "table netdev $NFT_SINK_TABLE {"
        echo "  counter frames {}"
        for i in $ifaces; do
            echo "  chain ingress$n {"
            echo "    type filter hook ingress device \"$i\" priority -500; policy drop;"
            echo "    counter name \"frames\""
            echo "  }"
            n=$((n + 1))
        done
        echo "}"
    fi
}

nft_load() {  # ns rules
    local out
    out=$(ip netns exec "$1" nft -f - <<<"$2" 2>&1) || die "nft rules failed in $1: $out
rules:
$2"
}

# Whether process $1 exists and is not a zombie.
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ "${stat:0:1}" != Z ]]
}

# Stop the daemon whose pid is in $1, only if its command line carries $2
# (never a process that reused the pid).
kill_daemon() {
    local pidfile=$1 tag=$2 pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(<"$pidfile")
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$tag"; then
        kill "$pid" 2>/dev/null || true
        # Gone, or a zombie its new parent (init) has yet to reap: done.
        for _ in $(seq 100); do running "$pid" || break; sleep 0.01; done
        if running "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$pidfile"
}

# Start a python3 daemon in the background (optionally inside a namespace) and
# wait until it wrote its pid to $DIR/$1.pid.
#   start_daemon WHAT NS|- script args...
start_daemon() {
    local what=$1 ns=$2 script=$3; shift 3
    local ready="$DIR/$what.pid" owner=()
    if [[ -n "$OWNER" ]]; then owner=(--owner "$OWNER"); fi
    local prefix=()
    if [[ "$ns" != - ]]; then prefix=(ip netns exec "$ns"); fi
    "${prefix[@]}" python3 "$HERE/$script" --ready "$ready" "${owner[@]}" "$@" \
        </dev/null >"$DIR/$what.log" 2>&1 &
    disown
    for _ in $(seq 500); do
        [[ -s "$ready" ]] && return 0
        sleep 0.02
    done
    die "$what did not start: $(cat "$DIR/$what.log")"
}

do_down() {
    names "$1"
    kill_daemon "$DIR/listener.pid" lablisten.py
    kill_daemon "$DIR/relay.pid" tunrelay.py
    local ns
    for ns in $(lab_namespaces "$1"); do
        run ip netns del "$ns"
    done
    rm -rf "$DIR"
}

# Remove labs whose owner process is gone, and namespaces of the old Rust lab
# (ssw-{s,t,l}-PID-N) whose test process is gone.
do_sweep() {
    local d owner name f n pid
    for d in "$STATE_ROOT"/*/; do
        [[ -f "$d/owner" ]] || continue
        name=$(basename "$d")
        owner=$(<"$d/owner")
        [[ "$owner" =~ ^[0-9]+$ ]] || continue
        if [[ ! -e "/proc/$owner" ]] && [[ "$name" =~ ^[A-Za-z0-9_]{1,13}$ ]]; then
            do_down "$name" || true
        fi
    done
    for f in /run/netns/ssw-[stl]-*-*; do
        [[ -e "$f" ]] || continue
        n=${f#/run/netns/}
        [[ "$n" =~ ^ssw-[stl]-([0-9]+)-[0-9a-z]+$ ]] || continue
        pid=${BASH_REMATCH[1]}
        [[ -e "/proc/$pid" ]] || ip netns del "$n" 2>/dev/null || true
    done
}

# ---- shapes ------------------------------------------------------------------

build_veth() {
    local k s si ti saddr gw smac tmac ifaces=""
    new_ns "$T"
    if ((IPV6)); then ipv6_on "$T"; fi
    run ip -n "$T" route add local "$TARGET_RANGE" dev lo
    for ((k = 0; k < SCANNERS; k++)); do
        if ((k == 0)); then s=$S; ti=$TI; else s="$S$k"; ti="tgt$k"; fi
        si=$SI
        saddr="198.18.0.$((4 * k + 1))"; gw="198.18.0.$((4 * k + 2))"
        smac=$(printf '02:53:53:57:%02x:01' "$k"); tmac=$(printf '02:53:53:57:%02x:02' "$k")
        new_ns "$s"
        if ((k == 0 && IPV6)); then ipv6_on "$s"; fi
        veth "$s" "$si" "$smac" "$saddr" "$T" "$ti" "$tmac" "$gw" 30
        run ip -n "$s" route add "$TARGET_RANGE" via "$gw" dev "$si"
        if ((k == 0 && IPV6)); then
            local j6
            for ((j6 = 1; j6 <= SOURCES; j6++)); do
                run ip -n "$s" addr add "2001:2:0:2::$j6/128" dev "$si" nodad
            done
            run ip -n "$s" addr add "$SCANNER_IP6/64" dev "$si" nodad
            run ip -n "$T" addr add "$GATEWAY_IP6/64" dev "$ti" nodad
            run ip -n "$T" neigh replace "$SCANNER_IP6" lladdr "$smac" dev "$ti" nud permanent
            run ip -n "$s" -6 route add "$TARGET_RANGE6" via "$GATEWAY_IP6" dev "$si"
            run ip -n "$T" -6 route add local "$TARGET_RANGE6" dev lo
            if ((SOURCES > 0)); then
                run ip -n "$T" -6 route add 2001:2:0:2::/64 via "$SCANNER_IP6" dev "$ti"
            fi
        fi
        if ((k == 0 && SOURCES > 0)); then
            local j
            for ((j = 1; j <= SOURCES; j++)); do
                run ip -n "$s" addr add "198.18.2.$j/32" dev "$si"
            done
            run ip -n "$T" route add 198.18.2.0/24 via "$saddr" dev "$ti"
        fi
        ifaces+=" $ti"
        INFO+=("scanner_ns_$k=$s" "scanner_iface_$k=$si" "target_iface_$k=$ti" "scanner_ip_$k=$saddr"
            "gateway_ip_$k=$gw" "scanner_mac_$k=$smac" "router_mac_$k=$tmac")
    done
    backlog_sysctls "$T"
    nft_load "$T" "$(nft_rules "$ifaces" "$MASK" "$VALUE" "$LOSS" "$SINK" "${ONLY[@]}")"
    if ((${#PORT_LIST[@]})); then start_daemon listener - lablisten.py --backlog "$BACKLOG" "$T=$PORTS"; fi
    INFO=("scanner_ns=$S" "target_ns=$T" "scanner_iface=$SI" "target_iface=$TI" "scanner_ip=198.18.0.1"
        "gateway_ip=198.18.0.2" "router_mac=$TARGET_MAC" "scanners=$SCANNERS" "sources=$SOURCES" "${INFO[@]}")
    if ((IPV6)); then
        INFO+=("scanner_ip6=$SCANNER_IP6" "gateway_ip6=$GATEWAY_IP6" "target_range6=$TARGET_RANGE6")
    fi
}

build_loopback() {
    ((SINK == 0)) || die "--sink needs a lab with a link (not --shape loopback)"
    new_ns "$S"
    if ((IPV6)); then ipv6_on "$S"; fi
    backlog_sysctls "$S"
    nft_load "$S" "$(nft_rules lo 0.0.0.0 0.0.0.0 "$LOSS" 0 "${ONLY[@]}")"
    if ((${#PORT_LIST[@]})); then start_daemon listener - lablisten.py --backlog "$BACKLOG" "$S=$PORTS"; fi
    INFO=("scanner_ns=$S" "target_ns=$S" "scanner_iface=lo" "target_iface=lo" "scanner_ip=127.0.0.1")
}

build_vpn() {
    new_ns "$S"
    new_ns "$T"
    if ((IPV6)); then ipv6_on "$S"; ipv6_on "$T"; fi
    # The relay creates both tuns in the scanner namespace; one then moves.
    start_daemon relay "$S" tunrelay.py "$SI" "$TI"
    run ip -n "$S" link set "$TI" netns "$T"
    run ip -n "$S" addr add 198.18.0.1/30 dev "$SI"
    run ip -n "$S" link set "$SI" txqueuelen 10000 up
    run ip -n "$S" route add "$TARGET_RANGE" dev "$SI"
    run ip -n "$T" addr add 198.18.0.2/30 dev "$TI"
    run ip -n "$T" link set "$TI" txqueuelen 10000 up
    run ip -n "$T" route add local "$TARGET_RANGE" dev lo
    if ((IPV6)); then
        run ip -n "$S" addr add "$SCANNER_IP6/64" dev "$SI" nodad
        run ip -n "$T" addr add "$GATEWAY_IP6/64" dev "$TI" nodad
        run ip -n "$S" -6 route add "$TARGET_RANGE6" dev "$SI"
        run ip -n "$T" -6 route add local "$TARGET_RANGE6" dev lo
    fi
    backlog_sysctls "$T"
    nft_load "$T" "$(nft_rules "$TI" "$MASK" "$VALUE" "$LOSS" "$SINK" "${ONLY[@]}")"
    if ((${#PORT_LIST[@]})); then start_daemon listener - lablisten.py --backlog "$BACKLOG" "$T=$PORTS"; fi
    INFO=("scanner_ns=$S" "target_ns=$T" "scanner_iface=$SI" "target_iface=$TI" "scanner_ip=198.18.0.1"
        "gateway_ip=198.18.0.2" "relay_pid=$(<"$DIR/relay.pid")")
    if ((IPV6)); then
        INFO+=("scanner_ip6=$SCANNER_IP6" "gateway_ip6=$GATEWAY_IP6" "target_range6=$TARGET_RANGE6")
    fi
}

build_twopath() {
    new_ns "$S"
    local k t si saddr gw smac tmac range specs=()
    local ranges=(198.19.0.0/17 198.19.128.0/17) sides=(a b) targets=("$T" "$U")
    for k in 0 1; do
        t=${targets[k]}; si="$NAME-${sides[k]}"; range=${ranges[k]}
        saddr="198.18.0.$((4 * k + 1))"; gw="198.18.0.$((4 * k + 2))"
        smac=$(printf '02:53:53:57:%02x:01' "$((0x10 + k))"); tmac=$(printf '02:53:53:57:%02x:02' "$((0x10 + k))")
        new_ns "$t"
        veth "$S" "$si" "$smac" "$saddr" "$t" "$TI" "$tmac" "$gw" 30
        run ip -n "$S" route add "$range" via "$gw" dev "$si"
        run ip -n "$t" route add local "$range" dev lo
        backlog_sysctls "$t"
        nft_load "$t" "$(nft_rules "$TI" "$MASK" "$VALUE" "$LOSS" "$SINK" "${ONLY[@]}")"
        specs+=("$t=$PORTS")
        INFO+=("path_iface_$k=$si" "path_ip_$k=$saddr" "path_gateway_$k=$gw" "path_mac_$k=$tmac"
            "path_target_ns_$k=$t" "path_target_iface_$k=$TI" "path_range_$k=$range")
    done
    if ((${#PORT_LIST[@]})); then start_daemon listener - lablisten.py --backlog "$BACKLOG" "${specs[@]}"; fi
    INFO=("scanner_ns=$S" "target_ns=$T" "scanner_iface=$NAME-a" "target_iface=$TI" "scanner_ip=198.18.0.1"
        "gateway_ip=198.18.0.2" "router_mac=02:53:53:57:10:02" "paths=2" "${INFO[@]}")
}

build_lan() {
    ((SINK == 0)) || die "--sink is not supported by --shape lan"
    [[ "$MASK" == 0.0.0.0 ]] || die "--alive-mask is not supported by --shape lan (hosts are the alive ones)"
    ((${#ONLY[@]} == 0)) || die "--only is not supported by --shape lan"
    new_ns "$W"
    new_ns "$S"
    run ip -n "$W" link add br0 type bridge forward_delay 0 stp_state 0
    run ip -n "$W" link set br0 up
    run ip link add "$SI" address "$SCANNER_MAC" netns "$S" type veth peer name p-s netns "$W"
    run ip -n "$W" link set p-s master br0 up
    run ip -n "$S" addr add "$LAN_SCANNER/24" dev "$SI"
    run ip -n "$S" link set "$SI" up
    local k h addr mac j p hp specs=() hosts_set=() pairs=()
    for ((k = 0; k < HOSTS; k++)); do
        h="sswlab-$NAME-h$k"
        addr="198.18.1.$((2 + (k * 97 + 11) % 253))"
        mac=$(printf '02:53:53:57:01:%02x' "$((k + 1))")
        new_ns "$h"
        run ip link add eth0 address "$mac" netns "$h" type veth peer name "p-h$k" netns "$W"
        run ip -n "$W" link set "p-h$k" master br0 up
        run ip -n "$h" addr add "$addr/24" dev eth0
        run ip -n "$h" link set eth0 up
        hp=""
        for ((j = 0; j < ${#PORT_LIST[@]}; j++)); do
            if (((k + j) % 3 != 2)); then hp+="${hp:+,}${PORT_LIST[j]}"; fi
        done
        if [[ -n "$hp" ]]; then specs+=("$h=$hp"); fi
        hosts_set+=("$addr"); pairs+=("$mac . $addr")
        INFO+=("host_ns_$k=$h" "host_ip_$k=$addr" "host_mac_$k=$mac" "host_ports_$k=$hp")
    done
    local syn="tcp flags & (fin | syn | rst | ack) == syn tcp window != $IDENT_WINDOW" rules
    local isyn="tcp flags & (fin | syn | rst | ack) == syn tcp window $IDENT_WINDOW"
    rules="table bridge $NFT_LAN_TABLE {
  counter syn_in {}
  counter ident_syn_in {}
  counter syn_blind {}
  counter syn_wrong_mac {}
  counter synack_out {}
  counter rst_out {}
  counter arp_requests {}
  set hosts { type ipv4_addr; elements = { $(IFS=,; echo "${hosts_set[*]}") } }
  set pairs { type ether_addr . ipv4_addr; elements = { $(IFS=,; echo "${pairs[*]}") } }
  chain pre {
    type filter hook prerouting priority filter; policy accept;
    iifname \"p-s\" $syn counter name \"syn_in\"
    iifname \"p-s\" $isyn counter name \"ident_syn_in\"
    iifname \"p-s\" $syn ip daddr != @hosts counter name \"syn_blind\"
    iifname \"p-s\" $syn ip daddr @hosts ether daddr . ip daddr != @pairs counter name \"syn_wrong_mac\"
    iifname \"p-s\" arp operation request counter name \"arp_requests\"
    iifname != \"p-s\" tcp flags & (syn | ack) == syn | ack counter name \"synack_out\"
    iifname != \"p-s\" tcp flags & rst == rst counter name \"rst_out\"
  }
}"
    nft_load "$W" "$rules"
    if ((${#specs[@]})); then start_daemon listener - lablisten.py --backlog "$BACKLOG" "${specs[@]}"; fi
    INFO=("scanner_ns=$S" "target_ns=$W" "switch_ns=$W" "scanner_iface=$SI" "target_iface=p-s"
        "scanner_ip=$LAN_SCANNER" "lan_net=$LAN_NET" "hosts=$HOSTS" "${INFO[@]}")
}

do_up() {
    local name=$1; shift
    SHAPE=veth PORTS="" MASK=0.0.0.0 VALUE=0.0.0.0 LOSS=0 SINK=0 BACKLOG=65535 SCANNERS=1 HOSTS=12 SOURCES=0 OWNER=""
    IPV6=0 MASK6="" VALUE6="::" QUEUES=1
    ONLY=() INFO=() PORT_LIST=()
    while (($#)); do
        case "$1" in
            --shape) SHAPE=${2:?--shape needs a value}; shift 2 ;;
            --ports) PORTS=${2:?--ports needs a value}; shift 2 ;;
            --alive-mask) MASK=${2:?--alive-mask needs a value}; shift 2 ;;
            --alive-value) VALUE=${2:?--alive-value needs a value}; shift 2 ;;
            --loss) LOSS=${2:?--loss needs a value}; shift 2 ;;
            --backlog) BACKLOG=${2:?--backlog needs a value}; shift 2 ;;
            --sink) SINK=1; shift ;;
            --queues) QUEUES=${2:?--queues needs a value}; shift 2 ;;
            --only) ONLY+=("${2:?--only needs PORT:MASK:VALUE}"); shift 2 ;;
            --scanners) SCANNERS=${2:?--scanners needs a value}; shift 2 ;;
            --hosts) HOSTS=${2:?--hosts needs a value}; shift 2 ;;
            --sources) SOURCES=${2:?--sources needs a value}; shift 2 ;;
            --owner) OWNER=${2:?--owner needs a pid}; shift 2 ;;
            --ipv6) IPV6=1; shift ;;
            --alive-mask6) MASK6=${2:?--alive-mask6 needs a value}; shift 2 ;;
            --alive-value6) VALUE6=${2:?--alive-value6 needs a value}; shift 2 ;;
            *) bad "up: unknown option '$1'" ;;
        esac
    done
    [[ "$SHAPE" =~ ^(veth|loopback|lan|vpn|twopath)$ ]] ||
        bad "--shape: '$SHAPE' is not one of veth, loopback, lan, vpn, twopath"
    if [[ -n "$PORTS" ]]; then
        IFS=, read -r -a PORT_LIST <<<"$PORTS"
        local p
        for p in "${PORT_LIST[@]}"; do
            [[ "$p" =~ ^[0-9]{1,5}$ ]] && ((p >= 1 && p <= 65535)) ||
                bad "--ports: '$p' is not a port (1-65535); use a list like 22,80,443"
        done
    fi
    is_ipv4 "$MASK" || bad "--alive-mask: '$MASK' is not an IPv4 mask like 0.0.0.3"
    is_ipv4 "$VALUE" || bad "--alive-value: '$VALUE' is not an IPv4 address like 0.0.0.0"
    (($(ip2int "$VALUE") & ~$(ip2int "$MASK") & 0xffffffff)) &&
        bad "--alive-value $VALUE has bits outside --alive-mask $MASK"
    [[ "$LOSS" =~ ^[0-9]{1,3}$ ]] && ((LOSS <= 100)) || bad "--loss: '$LOSS' is not a percentage 0-100"
    [[ "$QUEUES" =~ ^[0-9]{1,2}$ ]] && ((QUEUES >= 1 && QUEUES <= 64)) || bad "--queues: '$QUEUES' is not a queue count 1-64"
    [[ "$BACKLOG" =~ ^[0-9]+$ ]] && ((BACKLOG >= 1 && BACKLOG <= 65535)) ||
        bad "--backlog: '$BACKLOG' is not a number 1-65535"
    [[ "$SCANNERS" =~ ^[0-9]+$ ]] && ((SCANNERS >= 1 && SCANNERS <= 16)) ||
        bad "--scanners: '$SCANNERS' is not a number 1-16"
    ((SCANNERS == 1)) || [[ "$SHAPE" == veth ]] || bad "--scanners needs --shape veth"
    [[ "$HOSTS" =~ ^[0-9]+$ ]] && ((HOSTS >= 1 && HOSTS <= 200)) || bad "--hosts: '$HOSTS' is not a number 1-200"
    [[ "$SOURCES" =~ ^[0-9]+$ ]] && ((SOURCES <= 16)) || bad "--sources: '$SOURCES' is not a number 0-16"
    ((SOURCES == 0)) || [[ "$SHAPE" == veth ]] || bad "--sources needs --shape veth"
    [[ -z "$OWNER" || "$OWNER" =~ ^[0-9]+$ ]] || bad "--owner: '$OWNER' is not a pid"
    ((IPV6 == 0)) || [[ "$SHAPE" =~ ^(veth|vpn|loopback)$ ]] || bad "--ipv6 needs --shape veth, vpn or loopback"
    [[ -z "$MASK6" ]] || ((IPV6)) || bad "--alive-mask6 needs --ipv6"
    [[ -z "$MASK6" || "$MASK6" =~ ^::[0-9a-f]{1,4}$ ]] || bad "--alive-mask6: '$MASK6' is not a mask like ::3"
    [[ "$VALUE6" =~ ^::[0-9a-f]{0,4}$ ]] || bad "--alive-value6: '$VALUE6' is not a value like ::1"
    local o
    for o in "${ONLY[@]}"; do
        [[ "$o" =~ ^[0-9]{1,5}:[0-9.]+:[0-9.]+$ ]] || bad "--only: '$o' is not PORT:MASK:VALUE (e.g. 23:0.0.7.0:0.0.0.0)"
    done
    command -v nft >/dev/null || die "nft not found (install the nftables package)"
    command -v python3 >/dev/null || die "python3 not found (needed for listeners and the tun relay)"

    names "$name"
    if [[ -n "$(lab_namespaces "$name")" ]] || [[ -e "$DIR" ]]; then
        die "lab '$name' is already up (scripts/lab.sh down $name first)"
    fi
    # From here on, any failure tears down what was built.
    trap 'echo "lab.sh: up failed; removing lab $NAME" >&2; do_down "$NAME" >/dev/null 2>&1 || true' EXIT
    mkdir -p "$DIR"
    if [[ -n "$OWNER" ]]; then echo "$OWNER" >"$DIR/owner"; fi
    "build_$SHAPE"
    local ns
    for ns in $(lab_namespaces "$name"); do
        [[ -z "$(ip -n "$ns" route show default)" ]] || die "namespace $ns has a default route"
        [[ -z "$(ip -n "$ns" -6 route show default 2>/dev/null)" ]] || die "namespace $ns has an IPv6 default route"
    done
    printf '%s\n' "shape=$SHAPE" >"$DIR/config"
    trap - EXIT
    echo "shape=$SHAPE"
    printf '%s\n' "${INFO[@]}"
}

# Counters of nft table $2 $3 in namespace $1, as "name value" lines.
list_counters() {
    ip netns exec "$1" nft list counters table "$2" "$3" |
        awk '/counter/ {name=$2} /packets/ {print name, $2}'
}

do_counters() {
    names "$1"
    local index=${2:-} shape nss=()
    [[ -f "$DIR/config" ]] || die "lab '$1' is not up"
    shape=$(sed -n 's/^shape=//p' "$DIR/config")
    case "$shape" in
        lan) list_counters "$W" bridge "$NFT_LAN_TABLE"; return ;;
        loopback) nss=("$S") ;;
        twopath)
            case "$index" in
                "") nss=("$T" "$U") ;;
                0) nss=("$T") ;;
                1) nss=("$U") ;;
                *) bad "counters: INDEX must be 0 or 1 (got '$index')" ;;
            esac
            ;;
        *) nss=("$T") ;;
    esac
    local ns
    for ns in "${nss[@]}"; do
        list_counters "$ns" inet "$NFT_TABLE"
        if ip netns exec "$ns" nft list table netdev "$NFT_SINK_TABLE" >/dev/null 2>&1; then
            list_counters "$ns" netdev "$NFT_SINK_TABLE" | sed 's/^frames/sink_frames/'
        fi
    done | awk '{sum[$1] += $2; if (!($1 in seen)) {seen[$1] = 1; order[++n] = $1}}
                END {for (i = 1; i <= n; i++) print order[i], sum[order[i]]}'
}

do_reset() {
    names "$1"
    [[ -f "$DIR/config" ]] || die "lab '$1' is not up"
    local ns
    for ns in $(lab_namespaces "$1"); do
        ip netns exec "$ns" nft reset counters table inet "$NFT_TABLE" >/dev/null 2>&1 || true
        ip netns exec "$ns" nft reset counters table netdev "$NFT_SINK_TABLE" >/dev/null 2>&1 || true
        ip netns exec "$ns" nft reset counters table bridge "$NFT_LAN_TABLE" >/dev/null 2>&1 || true
    done
}

(($# >= 1)) || usage
cmd=$1; shift
case "$cmd" in -h | --help | help) usage ;; esac
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
        (($# == 1 || $# == 2)) || usage
        check_name "$1"
        do_counters "$@"
        ;;
    reset)
        (($# == 1)) || usage
        check_name "$1"
        do_reset "$1"
        ;;
    sweep)
        (($# == 0)) || usage
        do_sweep
        ;;
    *) bad "unknown command '$cmd' (up, down, exec, counters, reset, sweep)" ;;
esac
