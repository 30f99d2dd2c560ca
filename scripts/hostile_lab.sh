#!/usr/bin/env bash
# The hostile identification lab: real Debian daemons, services on other
# protocols' ports, middleboxes and peers that do not cooperate, over IPv4
# and IPv6, with its own table of what runs where (the ground truth) and a
# count of the SYNs each (address, port) receives. Used by
# tests/identify_hostile_lab.rs and scripts/identify_vs_nmap.sh.
#
#   scripts/hostile_lab.sh up NAME DIR [--owner PID]
#   scripts/hostile_lab.sh syns NAME        (ADDR PORT SYNS lines; since the last reset)
#   scripts/hostile_lab.sh reset NAME       (zero the SYN counts)
#   scripts/hostile_lab.sh down NAME        (idempotent)
#
# `up` builds a veth lab with IPv6 (scripts/lab.sh up NAME --ipv6: scanner
# and target namespaces, no route out, only 198.18.0.0/15 and 2001:2::/48)
# and starts in the target namespace, from DIR (keys, configurations, logs):
# sshd, nginx (HTTP, and TLS with a self-signed certificate), vsftpd,
# inetutils-telnetd behind socat, opensmtpd, redis, memcached, mosquitto, and
# scripts/hostile_peers.py. nftables rules there give each group of hosts
# its ports (a redirect puts a daemon on another port; a scanned port with
# nothing planned answers RST; addresses outside the groups are silent).
#
#   group     IPv4             IPv6                what answers
#   home      198.19.0.0/29    2001:2::1:0:0/125   each daemon on its own port
#   swapped   198.19.0.8/29    2001:2::1:0:8/125   client-first services on
#             server-first ports and the reverse (memcached on 21, mosquitto
#             on 110, redis on 25, sshd on 6379, vsftpd on 80, ...)
#   hostile   198.19.0.16/29   2001:2::1:0:10/125  peers that do not cooperate
#             (never accepts, accepts and closes, never reads, tarpit,
#             megabytes) on usual ports and on unknown ones
#   middlebox 198.19.1.0/29    2001:2::1:1:0/125   every port completes the
#             handshake and nothing is said: the first half never accepts,
#             the second half accepts and stays silent
#
# The plan (the ground truth) is DIR/truth.tsv, one open port a line:
#   FAMILY(4|6) GROUP ADDR PORT EXPECT
# EXPECT is the protocol that answers (synsweep's name: ftp ssh telnet smtp
# http tls mqtt redis memcached) for home and swapped, the peer's kind for
# hostile, `pseudo` for middlebox. Every other (address, port) of the scan
# is closed. `up` prints eval-able lines: scanner_ns target_ns truth ports
# targets4 targets6 (targets as comma lists of prefixes).
#
# The SYN counts come from an nftables dynamic set in the target namespace
# (prerouting, before any redirect): every SYN that arrives from the
# scanner, per destination (address, port), whatever its family.
#
# With --owner PID a watcher takes the lab down once PID is gone. `down`
# stops every process of the target namespace (all started by `up`) and
# removes the lab. Needs root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB="$HERE/lab.sh"
STATE_ROOT=/run/synsweep-hostile
PORTS=21,22,23,25,80,110,443,1883,6379,8443,11211,2000,2001,2002,2003,2004
TARGETS4=198.19.0.0/28,198.19.0.16/29,198.19.1.0/29
TARGETS6=2001:2::1:0:0/124,2001:2::1:0:10/125,2001:2::1:1:0/125
# Listeners of the peers (hostile_peers.py) and the middleboxes.
P_NEVER=65001 P_CLOSE=65002 P_NOREAD=65003 P_TARPIT=65004 P_MEGA=65005
P_HOLD=65000 P_SINK=65006
# Group prefixes, IPv4 and IPv6.
declare -A G4=([home]=198.19.0.0/29 [swapped]=198.19.0.8/29 [hostile]=198.19.0.16/29
    [mbhold]=198.19.1.0/30 [mbsink]=198.19.1.4/30)
declare -A G6=([home]=2001:2::1:0:0/125 [swapped]=2001:2::1:0:8/125 [hostile]=2001:2::1:0:10/125
    [mbhold]=2001:2::1:1:0/126 [mbsink]=2001:2::1:1:4/126)
# PORT:LISTENER:EXPECT for each group with services.
HOME="21:21:ftp 22:22:ssh 23:23:telnet 25:25:smtp 80:80:http 443:443:tls 1883:1883:mqtt
    6379:6379:redis 11211:11211:memcached 8443:22:ssh"
SWAPPED="21:11211:memcached 22:80:http 23:25:smtp 25:6379:redis 80:21:ftp 110:1883:mqtt
    443:80:http 1883:23:telnet 6379:22:ssh 8443:21:ftp 11211:443:tls 2000:1883:mqtt
    2001:11211:memcached"
HOSTILE="21:$P_NEVER:neveraccept 22:$P_TARPIT:tarpit 23:$P_CLOSE:close 25:$P_NOREAD:noread
    80:$P_MEGA:megabytes 2000:$P_NEVER:neveraccept 2001:$P_CLOSE:close 2002:$P_NOREAD:noread
    2003:$P_TARPIT:tarpit 2004:$P_MEGA:megabytes"

die() { echo "hostile_lab.sh: $*" >&2; exit 1; }
usage() { sed -n '/^#   scripts/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
check_name() { [[ ${1:-} =~ ^[A-Za-z0-9_]{1,13}$ ]] || { echo "hostile_lab.sh: NAME must be 1-13 characters of [A-Za-z0-9_]" >&2; exit 2; }; }

# Stop every process in namespace $1: all of them were started there by `up`.
kill_ns() {
    local ns=$1 p round pids
    [[ -e /run/netns/$ns ]] || return 0
    for round in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
        [[ -n $pids ]] || return 0
        for p in $pids; do
            if ((round < 6)); then kill "$p" 2>/dev/null || true; else kill -9 "$p" 2>/dev/null || true; fi
        done
        sleep 0.1
    done
}

do_down() {
    local name=$1 st=$STATE_ROOT/$1 w
    if [[ -f $st/watch.pid ]]; then
        w=$(<"$st/watch.pid")
        # Not the watcher that is running this `down`.
        if [[ $w != "$PPID" ]] && grep -q hostile_lab "/proc/$w/cmdline" 2>/dev/null; then
            kill "$w" 2>/dev/null || true
        fi
    fi
    kill_ns "sswlab-$name-t"
    "$LAB" down "$name" >/dev/null 2>&1 || true
    rm -rf "$st"
}

# Addresses of a prefix of the lab's plan, one a line: IPv4 a.b.c.d/n
# (n >= 24) or IPv6 ending in a hextet, .../n (n >= 112), no carry.
expand() {
    local a=${1%/*} n=${1#*/} i
    if [[ $a == *:* ]]; then
        local head=${a%:*} last=$((16#${a##*:}))
        for ((i = 0; i < 1 << (128 - n); i++)); do printf '%s:%x\n' "$head" $((last + i)); done
    else
        local head=${a%.*} last=${a##*.}
        for ((i = 0; i < 1 << (32 - n); i++)); do echo "$head.$((last + i))"; done
    fi
}

do_up() {
    local name=$1 dir=$2; shift 2
    local owner=
    while (($#)); do
        case "$1" in
            --owner) owner=${2:?--owner needs a pid}; shift 2 ;;
            *) echo "hostile_lab.sh: up: unknown option '$1'" >&2; exit 2 ;;
        esac
    done
    local t
    for t in nft ip ss python3 openssl socat redis-server mosquitto memcached ssh-keygen unshare; do
        command -v "$t" >/dev/null || die "$t not found (scripts/test.sh installs it)"
    done
    for t in sshd nginx vsftpd telnetd smtpd; do
        [[ -x /usr/sbin/$t ]] || die "/usr/sbin/$t not found (scripts/test.sh installs it)"
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local st=$STATE_ROOT/$name
    mkdir -p "$st"

    # From here on, a failure removes what was built.
    # shellcheck disable=SC2064 # NAME is fixed now (a valid name: no quoting issue)
    trap "echo 'hostile_lab.sh: up failed; removing lab $name' >&2; do_down $name" EXIT
    local lab_owner=()
    [[ -n $owner ]] && lab_owner=(--owner "$owner")
    local info
    info=$("$LAB" up "$name" --ipv6 "${lab_owner[@]}") || die "scripts/lab.sh up $name failed"
    eval "$info"
    local tns=$target_ns
    if [[ -n $owner ]]; then
        # Takes the lab down once the owner is gone (a test killed before
        # its own teardown ran); all of its descriptors closed.
        setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" down "$3"' \
            hostile_lab "$owner" "$HERE/hostile_lab.sh" "$name" </dev/null >/dev/null 2>&1 &
        echo $! >"$st/watch.pid"
    fi
    inns() { ip netns exec "$tns" "$@"; }
    # `ip netns exec` execs the daemon: its output goes to DIR/NAME.log.
    bg() { local log=$1; shift; ip netns exec "$tns" "$@" </dev/null >"$dir/$log.log" 2>&1 & disown; }
    inns sysctl -q -w net.core.somaxconn=65535

    mkdir -p /run/sshd "$dir/nginx" "$dir/ftp-empty" "$dir/mail"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey" <<<y >/dev/null 2>&1 || die "ssh-keygen failed"
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=synsweep-hostile-lab -days 2 \
        -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null || die "openssl req failed"
    bg sshd /usr/sbin/sshd -D -e -f /dev/null -h "$dir/hostkey" -o ListenAddress=0.0.0.0:22 \
        -o ListenAddress=[::]:22 -o MaxStartups=2000 -o PidFile=none
    local n=$dir/nginx
    cat >"$dir/nginx.conf" <<EOF
daemon off; master_process off; user root; worker_processes 1; pid $dir/nginx.pid;
error_log stderr; events { worker_connections 4096; }
http { access_log off; client_body_temp_path $n/body; proxy_temp_path $n/proxy;
  fastcgi_temp_path $n/fcgi; uwsgi_temp_path $n/uwsgi; scgi_temp_path $n/scgi;
  server { listen 80 backlog=4096; listen [::]:80 backlog=4096; location / { return 200 "lab\n"; } }
  server { listen 443 ssl backlog=4096; listen [::]:443 ssl backlog=4096;
    ssl_certificate $dir/tls.crt; ssl_certificate_key $dir/tls.key; location / { return 200 "lab\n"; } }
}
EOF
    bg nginx /usr/sbin/nginx -p "$n" -c "$dir/nginx.conf"
    bg redis redis-server --port 6379 --bind '0.0.0.0 ::' --protected-mode no --save '' \
        --appendonly no --tcp-backlog 4096 --dir "$dir"
    printf 'listen=NO\nlisten_ipv6=YES\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\nseccomp_sandbox=NO\nmax_clients=0\nmax_per_ip=0\nsecure_chroot_dir=%s\n' \
        "$dir/ftp-empty" >"$dir/vsftpd.conf"
    bg vsftpd /usr/sbin/vsftpd "$dir/vsftpd.conf"
    printf 'listener 1883\nallow_anonymous true\nmax_connections -1\n' >"$dir/mosquitto.conf"
    bg mosquitto mosquitto -c "$dir/mosquitto.conf"
    bg telnetd socat TCP6-LISTEN:23,ipv6only=0,reuseaddr,fork,backlog=1024 EXEC:/usr/sbin/telnetd,nofork
    bg memcached memcached -u root -l 0.0.0.0,:: -p 11211 -U 0 -c 4096 -b 4096
    # smtpd reads its configuration only from a file root owns, not writable by others.
    printf 'listen on 0.0.0.0 port 25\nlisten on :: port 25\naction "local" maildir "%s"\nmatch from any for any action "local"\n' \
        "$dir/mail" >"$dir/smtpd.conf"
    chmod 644 "$dir/smtpd.conf"
    # Its control socket (/run/smtpd.sock) and queue (/var/spool/smtpd) are
    # the machine's: private ones, so that labs can run side by side. The
    # queue's directory lies in a private /var/spool, since it exists only
    # where the package's own service has run once.
    bg smtpd unshare --mount --propagation private sh -c 'mount -t tmpfs -o mode=755 tmpfs /run &&
        mount -t tmpfs -o mode=755 tmpfs /var/spool && mkdir -m 711 /var/spool/smtpd &&
        exec /usr/sbin/smtpd -d -f "$1"' smtpd "$dir/smtpd.conf"
    bg peers python3 "$HERE/hostile_peers.py" ${owner:+--owner "$owner"} \
        "neveraccept=$P_NEVER" "close=$P_CLOSE" "noread=$P_NOREAD" "tarpit=$P_TARPIT" \
        "megabytes=$P_MEGA" "neveraccept=$P_HOLD" "sink=$P_SINK"

    local p ok
    for p in 21 22 23 25 80 443 1883 6379 11211 $P_NEVER $P_CLOSE $P_NOREAD $P_TARPIT $P_MEGA $P_HOLD $P_SINK; do
        ok=0
        for _ in $(seq 300); do
            # Both families: a [::] or * socket (dual stack) or one of each.
            local l
            l=$(inns ss -Htln "sport = :$p")
            if grep -Eq '(\[::\]|\*):' <<<"$l"; then ok=1; break; fi
            sleep 0.05
        done
        ((ok)) || die "nothing listens on [::]:$p in the target namespace (logs in $dir)"
    done

    # The plan, and the nftables rules that make it true.
    local truth=$dir/truth.tsv ip g e spec port to want a pre="" nat="" fam pfx ports
    : >"$truth"
    for g in home swapped hostile; do
        case $g in home) e=$HOME ;; swapped) e=$SWAPPED ;; hostile) e=$HOSTILE ;; esac
        ports=()
        for spec in $e; do
            IFS=: read -r port to want <<<"$spec"
            ports+=("$port")
            for fam in 4 6; do
                if [[ $fam == 4 ]]; then pfx=${G4[$g]} ip=ip; else pfx=${G6[$g]} ip=ip6; fi
                for a in $(expand "$pfx"); do printf '%s\t%s\t%s\t%s\t%s\n' "$fam" "$g" "$a" "$port" "$want" >>"$truth"; done
                if [[ $port != "$to" ]]; then
                    nat+="    $ip daddr $pfx tcp dport $port redirect to :$to"$'\n'
                fi
            done
        done
        local set
        set=$(IFS=,; echo "${ports[*]}")
        pre+="    ip daddr ${G4[$g]} tcp dport != { $set } meta mark set 0x5e1"$'\n'
        pre+="    ip6 daddr ${G6[$g]} tcp dport != { $set } meta mark set 0x5e1"$'\n'
    done
    for g in mbhold mbsink; do
        to=$P_HOLD; [[ $g == mbsink ]] && to=$P_SINK
        for fam in 4 6; do
            if [[ $fam == 4 ]]; then pfx=${G4[$g]} ip=ip; else pfx=${G6[$g]} ip=ip6; fi
            for a in $(expand "$pfx"); do
                for port in ${PORTS//,/ }; do printf '%s\tmiddlebox\t%s\t%s\tpseudo\n' "$fam" "$a" "$port" >>"$truth"; done
            done
            nat+="    $ip daddr $pfx meta l4proto tcp redirect to :$to"$'\n'
        done
    done
    local all4 all6
    all4=$(IFS=,; echo "${G4[*]}")
    all6=$(IFS=,; echo "${G6[*]}")
    cat >"$dir/hostilelab.nft" <<EOF
table inet hostilelab {
  set syn4 { type ipv4_addr . inet_service; size 65535; flags dynamic; counter; }
  set syn6 { type ipv6_addr . inet_service; size 65535; flags dynamic; counter; }
  chain count {
    type filter hook prerouting priority raw - 1; policy accept;
    iifname "$target_iface" tcp flags & (fin | syn | rst | ack) == syn update @syn4 { ip daddr . tcp dport }
    iifname "$target_iface" tcp flags & (fin | syn | rst | ack) == syn update @syn6 { ip6 daddr . tcp dport }
  }
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    iif lo accept
    ip daddr 198.19.0.0/16 ip daddr != { $all4 } drop
    ip6 daddr 2001:2::/64 ip6 daddr != { $all6 } drop
$pre  }
  chain nat {
    type nat hook prerouting priority dstnat; policy accept;
$nat  }
  chain input {
    type filter hook input priority filter; policy accept;
    meta mark 0x5e1 meta l4proto tcp reject with tcp reset
  }
}
EOF
    inns nft -f "$dir/hostilelab.nft" || die "nft rules failed (see $dir/hostilelab.nft)"
    echo "$tns" >"$st/target_ns"
    trap - EXIT
    echo "scanner_ns=$scanner_ns"
    echo "target_ns=$tns"
    echo "truth=$truth"
    echo "ports=$PORTS"
    echo "targets4=$TARGETS4"
    echo "targets6=$TARGETS6"
}

do_syns() {
    local ns="sswlab-$1-t" s
    [[ -e /run/netns/$ns ]] || die "no lab $1"
    for s in syn4 syn6; do
        ip netns exec "$ns" nft -j list set inet hostilelab "$s" | python3 -c '
import json, sys
for o in json.load(sys.stdin)["nftables"]:
    for e in o.get("set", {}).get("elem", []):
        e = e["elem"]
        a, p = e["val"]["concat"]
        print(a, p, e["counter"]["packets"])'
    done
}

do_reset() {
    local ns="sswlab-$1-t"
    [[ -e /run/netns/$ns ]] || die "no lab $1"
    ip netns exec "$ns" nft flush set inet hostilelab syn4
    ip netns exec "$ns" nft flush set inet hostilelab syn6
}

(($# >= 2)) || usage
cmd=$1; shift
check_name "$1"
case "$cmd" in
    up) (($# >= 2)) || usage; [[ $EUID -eq 0 ]] || die "must run as root"; do_up "$@" ;;
    syns) do_syns "$1" ;;
    reset) do_reset "$1" ;;
    down) do_down "$1" ;;
    *) usage ;;
esac
