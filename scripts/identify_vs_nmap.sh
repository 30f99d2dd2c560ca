#!/usr/bin/env bash
# Service identification side by side in one lab run: synsweep
# (identification on by default), synsweep --no-identify (the SYN scan it
# costs against) and nmap -sV, on the same real Debian daemons; share of
# open ports named correctly, named wrongly, and wall time.
#
#   scripts/identify_vs_nmap.sh [--skip-build] [--real-bits B] [--no-nmap]
#   scripts/identify_vs_nmap.sh --lab hostile [--skip-build] [--hosts N] [--no-nmap]
#
# --lab hostile: the hostile lab instead (scripts/hostile_lab.sh, the lab of
# tests/identify_hostile_lab.rs): real daemons on their ports and on other
# protocols' ports, middleboxes, peers that never accept, close, never
# read, tarpit or send megabytes, over IPv4 and IPv6. Each family is
# scanned by synsweep --no-identify, synsweep (defaults) and nmap -sV, on the
# first N hosts of each group (--hosts, 1 to 8, default 8). Per family and
# tool: real services named right / wrong / unnamed (truth: the lab's plan),
# middlebox ports pseudo (synsweep) or named (nmap), uncooperative ports
# that were given a name, and wall time.
#
# --real-bits B: 2^B real hosts (198.19.0.0/(32-B), default 3: 8 hosts, at
# most 8: a /24), and 2^(B-1) middleboxes in 198.19.1.0; --no-nmap: only
# synsweep, identifying and not (the wall-time cost at a larger size).
#
# Lab (scripts/lab.sh, veth shape). Real hosts 198.19.0.0/29 (every daemon
# listens on 0.0.0.0, so all 8 answer): sshd 22, vsftpd 21, telnetd 23
# (inetutils-telnetd behind socat), nginx 80 and 7777 (HTTP) and 8443 and
# 4443 (TLS), openssl s_server 993 (TLS 1.0 only), mosquitto 1883, redis
# 6379, memcached 11211, and nftables redirects 443 -> sshd, 8080 ->
# telnetd, 7379 -> redis (services where nobody expects them). Middlebox
# hosts 198.19.1.0/30: every port redirected to a listener that never
# accepts (SYN-ACK everywhere, nothing said). Ports scanned: the 14 above
# and 2000-2009 (closed on the real hosts).
#
# Truth: 14 services per real host (8 x 14 = 112 by default); a tool is right on a port when it names
# the protocol that answers there (nmap's names mapped to synsweep's:
# ssl/* and https are tls, ...). Middlebox ports: synsweep should say pseudo
# (no protocol); what nmap says is shown.
#
# Every packet stays inside the lab's two namespaces (unique names, torn
# down on exit with the daemons). Needs root, the daemons above, nmap, jq.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab="$here/lab.sh"
build=1
bits=3
nmap=1
labkind=classic
hosts=8
while (($#)); do
    case "$1" in
        --skip-build) build=0; shift ;;
        --real-bits) bits=${2:?--real-bits needs a value}; shift 2 ;;
        --no-nmap) nmap=0; shift ;;
        --lab) labkind=${2:?--lab needs classic or hostile}; shift 2 ;;
        --hosts) hosts=${2:?--hosts needs a value}; shift 2 ;;
        *) echo "usage: $0 [--skip-build] [--real-bits B] [--no-nmap] [--lab classic|hostile] [--hosts N]" >&2; exit 2 ;;
    esac
done
[[ $bits =~ ^[1-8]$ ]] || { echo "identify_vs_nmap.sh: --real-bits takes 1 to 8" >&2; exit 2; }
[[ $hosts =~ ^[1-8]$ ]] || { echo "identify_vs_nmap.sh: --hosts takes 1 to 8" >&2; exit 2; }
[[ $labkind == classic || $labkind == hostile ]] || { echo "identify_vs_nmap.sh: --lab takes classic or hostile" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "identify_vs_nmap.sh: must run as root (network namespaces)" >&2; exit 1; }
for t in sshd nginx redis-server vsftpd memcached mosquitto socat openssl nmap jq ssh-keygen python3; do
    command -v "$t" >/dev/null || [[ -x /usr/sbin/$t ]] || { echo "identify_vs_nmap.sh: $t not found" >&2; exit 1; }
done
[[ -x /usr/sbin/telnetd ]] || { echo "identify_vs_nmap.sh: /usr/sbin/telnetd (inetutils-telnetd) not found" >&2; exit 1; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin="$CARGO_TARGET_DIR/release/synsweep"
work=$(mktemp -d /tmp/synsweep-idnmap.XXXXXX)
name="in$$"
pids=()
cleanup() {
    local p
    # telnetd children of socat may outlive it: whatever of them still runs
    # in the target namespace.
    if [[ -n ${tns:-} ]]; then
        for p in $(ip netns pids "$tns" 2>/dev/null); do
            [[ $(cat "/proc/$p/comm" 2>/dev/null) == telnetd ]] && kill "$p" 2>/dev/null || true
        done
    fi
    for p in "${pids[@]:-}"; do
        [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]:-}"; do
        [[ -n "$p" ]] && wait "$p" 2>/dev/null || true
    done
    if [[ $labkind == hostile ]]; then
        "$here/hostile_lab.sh" down "$name" >/dev/null 2>&1 || true
    else
        "$lab" down "$name" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((build)); then
    (cd "$root" && cargo build --release --quiet)
fi

now() { date +%s.%N; }

# nmap's XML as "IP PORT PROTOCOL" lines, nmap's service names mapped to
# synsweep's protocols ("-": nothing named; method="table" is nmap's guess
# from the port number, not an identification).
nmap_lines() {
    python3 -c '
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
m = {"ssh": "ssh", "http": "http", "ftp": "ftp", "telnet": "telnet", "redis": "redis",
     "memcached": "memcached", "mqtt": "mqtt", "mosquitto": "mqtt", "https": "tls", "imaps": "tls", "ssl": "tls",
     "http-proxy": "http", "smtp": "smtp", "pop3": "pop3", "imap": "imap", "vnc": "vnc",
     "mysql": "mysql", "rdp": "rdp", "ms-wbt-server": "rdp", "ldap": "ldap", "rtsp": "rtsp",
     "rsync": "rsync", "amqp": "amqp", "irc": "irc", "mongodb": "mongodb",
     "postgresql": "postgresql", "microsoft-ds": "smb", "netbios-ssn": "smb"}
for h in doc.getElementsByTagName("host"):
    ip = [a.getAttribute("addr") for a in h.getElementsByTagName("address")
          if a.getAttribute("addrtype") in ("ipv4", "ipv6")][0]
    for p in h.getElementsByTagName("port"):
        if p.getElementsByTagName("state")[0].getAttribute("state") != "open":
            continue
        s = p.getElementsByTagName("service")
        name = s[0].getAttribute("name") if s else ""
        tunnel = s[0].getAttribute("tunnel") if s else ""
        if s and s[0].getAttribute("method") == "table":
            name, tunnel = "", ""
        if name.startswith("mosquitto"):
            name = "mqtt"
        proto = "tls" if tunnel == "ssl" else m.get(name, "-" if name in ("", "tcpwrapped", "unknown") else name)
        print(ip, p.getAttribute("portid"), proto)
' "$1"
}

# Score "IP PORT PROTOCOL CLAIM" lines against the plan of family $1 (CLAIM:
# what the tool stated without naming: a service label; "-" for none).
# Prints: right wrong unnamed services | pseudo-or-named middlebox | hostile claims hostile | examples
hscore() {
    awk -v F="$1" -v T="$truth" -v P="$2" '
        BEGIN { while ((getline l < T) > 0) { split(l, a, "\t"); if (a[1] == F) { g[a[3] " " a[4]] = a[2]; e[a[3] " " a[4]] = a[5] } } }
        { k = $1 " " $2; seen[k] = 1
          if (!(k in g)) next
          if (g[k] == "home" || g[k] == "swapped") {
              if ($3 == e[k]) right++
              else if ($3 == "-") { none++; un[e[k] " on " $2]++ }
              else { wrong++; if (nw < 3) { nw++; ex = ex " " $2 ":" e[k] "->" $3 } }
          } else if (g[k] == "middlebox") {
              if (P == "synsweep" ? $5 == "pseudo" : $3 != "-") mb++
          } else if ($3 != "-" || $4 != "-") { hc++; if (nh < 3) { nh++; hx = hx " " $2 "(" e[k] "):" ($3 != "-" ? $3 : $4) } } }
        END { for (k in g) { if (g[k] == "home" || g[k] == "swapped") ns++; else if (g[k] == "middlebox") nm++; else nhost++
                             if (!(k in seen) && (g[k] == "home" || g[k] == "swapped")) { none++; un[e[k] " not found"]++ } }
              printf "%d %d %d %d %d %d %d %d", right + 0, wrong + 0, none + 0, ns + 0, mb + 0, nm + 0, hc + 0, nhost + 0
              if (wrong) printf " wrong:%s", ex
              if (hc) printf " claims:%s", hx
              if (none) { printf " unnamed:"; n = 0; for (u in un) if (n++ < 6) printf " %s x%d", u, un[u] }
              printf "\n" }'
}

hrow() { # label wall right wrong none services mb nmb hc nhost [examples...]
    local label=$1 wall=$2 r=$3 w=$4 n=$5 t=$6 mb=$7 nmb=$8 hc=$9 nh=${10}
    shift 10
    printf '  %-30s %7.2f s  right %3d/%d = %6.2f%%  wrong %3d  unnamed %3d  middlebox %s %3d/%d  uncooperative named %2d/%d\n' \
        "$label" "$wall" "$r" "$t" "$(awk -v a="$r" -v t="$t" 'BEGIN { print t ? 100 * a / t : 0 }')" "$w" "$n" \
        "$([[ $label == nmap* ]] && echo named || echo pseudo)" "$mb" "$nmb" "$hc" "$nh"
    [[ -z "$*" ]] || echo "      $*"
}

hostile_main() {
    for t in smtpd; do command -v "$t" >/dev/null || { echo "identify_vs_nmap.sh: $t (opensmtpd) not found" >&2; exit 1; }; done
    local info
    info=$("$here/hostile_lab.sh" up "$name" "$work/lab" --owner $$) || { echo "identify_vs_nmap.sh: hostile_lab.sh up failed" >&2; exit 1; }
    eval "$info"
    tns=$target_ns
    local sns=$scanner_ns all
    # The first $hosts hosts of each group (the plan lists them in order);
    # of the middleboxes, the first $hosts of each half (never accepts,
    # accepts and stays silent).
    all=$work/lab/truth.tsv
    truth=$work/truth.tsv
    awk -F'\t' -v N="$hosts" '{ k = $1 $2; if ($2 == "middlebox") { n = split($3, o, /[.:]/); k = k (o[n] + 0 >= 4) }
        if (!(($3) in pos)) { pos[$3] = ++cnt[k] } } pos[$3] <= N' "$all" >"$truth"
    echo "synsweep identification vs nmap -sV on the hostile lab: $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "lab: $hosts hosts per group (home, swapped, hostile, middlebox x2) per family, ports $ports; nmap $(nmap --version | awk 'NR==1 {print $3}')"
    cd "$work"
    local fam tg wall t0 t1 mode extra r w n ns mb nmb hc nh rest label
    for fam in 4 6; do
        mapfile -t tg < <(awk -F'\t' -v F="$fam" '$1 == F { print $3 }' "$truth" | sort -u)
        echo "IPv$fam: ${#tg[@]} hosts, $(awk -F'\t' -v F="$fam" '$1 == F && ($2 == "home" || $2 == "swapped")' "$truth" | wc -l) real services, $(awk -F'\t' -v F="$fam" '$1 == F' "$truth" | wc -l) open ports in the plan"
        declare -A hw=()
        for mode in plain ident; do
            extra=(); [[ $mode == plain ]] && extra=(--no-identify)
            t0=$(now)
            timeout -s INT 300 ip netns exec "$sns" "$bin" scan "${tg[@]}" -p "$ports" --seed 7 \
                "${extra[@]}" -o "$work/$mode$fam.ndjson" >"$work/$mode$fam.out" 2>&1 || true
            t1=$(now)
            hw[$mode]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
        done
        read -r r w n ns mb nmb hc nh rest < <(jq -r 'select(.reason == "syn-ack")
            | "\(.ip) \(.port) \(.protocol // "-") \(if .protocol == null and .service != null and .service != "unknown" and (.service | endswith("?") | not) then .service else "-" end) \(if .pseudo then "pseudo" else "-" end)"' \
            "$work/ident$fam.ndjson" | hscore "$fam" synsweep)
        hrow "synsweep (defaults)" "${hw[ident]}" "$r" "$w" "$n" "$ns" "$mb" "$nmb" "$hc" "$nh" "$rest"
        echo "      open ports: $(jq -r 'select(.reason == "syn-ack") | "\(.ip) \(.port)"' "$work/ident$fam.ndjson" | sort -u | wc -l) identifying, $(jq -r 'select(.reason == "syn-ack") | "\(.ip) \(.port)"' "$work/plain$fam.ndjson" | sort -u | wc -l) with --no-identify; wall time ratio $(awk -v a="${hw[ident]}" -v b="${hw[plain]}" 'BEGIN { printf "%.2f", a / b }')x"
        printf '  %-30s %7.2f s\n' "synsweep --no-identify" "${hw[plain]}"
        ((nmap)) || continue
        label="nmap -sV -n -Pn -T4"
        local six=()
        [[ $fam == 6 ]] && six=(-6)
        t0=$(now)
        timeout -s INT 1800 ip netns exec "$sns" nmap "${six[@]}" -sV -n -Pn -T4 -p "$ports" -oX "$work/n$fam.xml" \
            "${tg[@]}" >"$work/n$fam.out" 2>&1 || true
        t1=$(now)
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
        read -r r w n ns mb nmb hc nh rest < <(nmap_lines "$work/n$fam.xml" | awk '{ print $1, $2, $3, "-", "-" }' | hscore "$fam" nmap)
        hrow "$label" "$wall" "$r" "$w" "$n" "$ns" "$mb" "$nmb" "$hc" "$nh" "$rest"
    done
}

if [[ $labkind == hostile ]]; then
    hostile_main
    exit 0
fi

eval "$("$lab" up "$name")"
tns=$target_ns; sns=$scanner_ns
REAL=198.19.0.0/$((32 - bits))
MB=198.19.1.0/$((33 - bits))
nreal=$((1 << bits))
nmb=$((1 << (bits - 1)))
HOLD=65000
PORTS=21,22,23,80,443,993,1883,4443,6379,7379,7777,8080,8443,11211,2000-2009

inns() { ip netns exec "$tns" "$@"; }
# `ip netns exec` execs the daemon: $! is the daemon's own pid.
bg() { ip netns exec "$tns" "$@" >/dev/null 2>&1 & pids+=($!); }

mkdir -p /run/sshd "$work/nginx" "$work/ftp-empty"
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
bg /usr/sbin/sshd -D -e -f /dev/null -h "$work/hostkey" -o ListenAddress=0.0.0.0:22 \
    -o MaxStartups=2000 -o PidFile=none
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=synsweep-lab -days 2 \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
t=$work/nginx
cat >"$work/nginx.conf" <<EOF
daemon off; master_process off; user root; worker_processes 1; pid $work/nginx.pid;
error_log stderr; events { worker_connections 4096; }
http { access_log off; client_body_temp_path $t/body; proxy_temp_path $t/proxy;
  fastcgi_temp_path $t/fcgi; uwsgi_temp_path $t/uwsgi; scgi_temp_path $t/scgi;
  server { listen 80; listen 7777; location / { return 200 "lab\n"; } }
  server { listen 8443 ssl; listen 4443 ssl; ssl_certificate $work/tls.crt;
    ssl_certificate_key $work/tls.key; location / { return 200 "lab\n"; } } }
EOF
bg /usr/sbin/nginx -p "$t" -c "$work/nginx.conf"
bg openssl s_server -accept 993 -cert "$work/tls.crt" -key "$work/tls.key" -tls1 \
    -cipher DEFAULT@SECLEVEL=0 -quiet
bg redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no --dir "$work"
printf 'listen=YES\nlisten_ipv6=NO\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\nseccomp_sandbox=NO\nmax_clients=0\nmax_per_ip=0\nsecure_chroot_dir=%s\n' \
    "$work/ftp-empty" >"$work/vsftpd.conf"
bg /usr/sbin/vsftpd "$work/vsftpd.conf"
bg memcached -u root -l 0.0.0.0 -p 11211 -U 0 -c 4096
printf 'listener 1883 0.0.0.0\nallow_anonymous true\nmax_connections -1\n' >"$work/mosquitto.conf"
bg mosquitto -c "$work/mosquitto.conf"
bg socat TCP-LISTEN:23,reuseaddr,fork,backlog=1024 EXEC:/usr/sbin/telnetd,nofork
# One listener answers for every middlebox: a deep accept queue, as if each had its own.
inns sysctl -q -w net.core.somaxconn=65535
bg python3 -c "import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', $HOLD)); s.listen(65535)
while True: time.sleep(3600)"
for p in 21 22 23 80 993 1883 4443 6379 7777 8443 11211 $HOLD; do
    for _ in $(seq 200); do
        [[ -n $(inns ss -Htln "sport = :$p") ]] && break
        sleep 0.1
    done
    [[ -n $(inns ss -Htln "sport = :$p") ]] || { echo "identify_vs_nmap.sh: nothing on tcp/$p" >&2; exit 1; }
done
inns nft -f - <<EOF
table ip idlab {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr $REAL tcp dport 443 redirect to :22
    ip daddr $REAL tcp dport 8080 redirect to :23
    ip daddr $REAL tcp dport 7379 redirect to :6379
    ip daddr $MB tcp dport != $HOLD redirect to :$HOLD
  }
}
EOF

# The truth: "PORT PROTOCOL" on every real host.
cat >"$work/truth" <<EOF
21 ftp
22 ssh
23 telnet
80 http
443 ssh
993 tls
1883 mqtt
4443 tls
6379 redis
7379 redis
7777 http
8080 telnet
8443 tls
11211 memcached
EOF
truth=$((nreal * $(wc -l <"$work/truth")))
now() { date +%s.%N; }
# Score "IP PORT PROTOCOL" lines (PROTOCOL "-" when none) of the real hosts.
score() {
    awk -v T="$work/truth" 'BEGIN { while ((getline l < T) > 0) { split(l, a, " "); want[a[1]] = a[2] } }
        $1 ~ /^198\.19\.0\./ && ($2 in want) {
            if ($3 == want[$2]) right++
            else if ($3 == "-") { none++; un[$2]++ }
            else { wrong++; if (w < 5) { w++; ex = ex " wrong " $2 ":" $3 } } }
        END { printf "%d %d %d%s", right + 0, wrong + 0, none + 0, ex
              if (none) { printf " unnamed on ports"; for (p in un) printf " %s", p }
              printf "\n" }'
}
row() { # label wall right wrong none [examples]
    printf '  %-34s %7.2f s  right %3d/%d = %6.2f%%  wrong %3d  unnamed %3d%s\n' "$1" "$2" "$3" "$truth" \
        "$(awk -v a="$3" -v t="$truth" 'BEGIN { print 100 * a / t }')" "$4" "$5" "${6:+  ($6)}"
}

echo "synsweep identification vs nmap -sV: $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lab: $REAL ($nreal real hosts x 14 services = $truth) + $MB ($nmb middleboxes), ports $PORTS; nmap $(nmap --version | awk 'NR==1 {print $3}')"
cd "$work"

declare -A wall
for mode in plain ident; do
    extra=(); [[ $mode == plain ]] && extra=(--no-identify)
    t0=$(now)
    timeout -s INT 300 ip netns exec "$sns" "$bin" scan "$REAL" "$MB" -p "$PORTS" --rate 2000 --wait 2 \
        "${extra[@]}" -o "$work/$mode.ndjson" >"$work/$mode.out" 2>&1 || true
    t1=$(now)
    wall[$mode]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
done
open_plain=$(jq -r 'select(.reason == "syn-ack") | "\(.ip) \(.port)"' "$work/plain.ndjson" | sort -u | wc -l)
open_ident=$(jq -r 'select(.reason == "syn-ack") | "\(.ip) \(.port)"' "$work/ident.ndjson" | sort -u | wc -l)
read -r r w n ex < <(jq -r 'select(.reason == "syn-ack") | "\(.ip) \(.port) \(.protocol // "-")"' "$work/ident.ndjson" | score)
row "synsweep (identifying)" "${wall[ident]}" "$r" "$w" "$n" "$ex"
echo "      open ports found: $open_ident identifying, $open_plain with --no-identify; wall time ratio $(awk -v a="${wall[ident]}" -v b="${wall[plain]}" 'BEGIN { printf "%.2f", a / b }')x"
# The stream writes each record with what was known then; the documents
# (here `synsweep report` to JSON) apply the final middlebox verdict.
"$bin" report "$work/ident.ndjson" -o "$work/ident.json" >/dev/null 2>&1 || true
echo "      middlebox ports marked pseudo: $(jq -r 'select(.ip | startswith("198.19.1.")) | select(.pseudo == true) | .port' "$work/ident.ndjson" | wc -l) of $(jq -r 'select(.ip | startswith("198.19.1."))| .port' "$work/ident.ndjson" | wc -l) as streamed (NDJSON), $(jq -r '.findings[] | select(.ip | startswith("198.19.1.")) | select(.pseudo == true) | .port' "$work/ident.json" 2>/dev/null | wc -l) in the documents (final verdict)"
echo "      TLS 1.0 findings: $(jq -r 'select(.reason == "tls-version") | .ip' "$work/ident.ndjson" | wc -l)"
grep -o 'synsweep: .*' "$work/ident.out" | sed 's/^/      /' || true
printf '  %-34s %7.2f s\n' "synsweep --no-identify" "${wall[plain]}"

((nmap)) || exit 0
label="nmap -sV -n -Pn -T4"
t0=$(now)
timeout -s INT 1800 ip netns exec "$sns" nmap -sV -n -Pn -T4 -p "$PORTS" -oX "$work/n.xml" \
    "$REAL" "$MB" >"$work/n.out" 2>&1 || true
t1=$(now)
wall[nmap]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
# nmap's service names to synsweep's protocols.
nmap_lines() {
    python3 -c '
import re, sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
for h in doc.getElementsByTagName("host"):
    ip = [a.getAttribute("addr") for a in h.getElementsByTagName("address") if a.getAttribute("addrtype") == "ipv4"][0]
    for p in h.getElementsByTagName("port"):
        st = p.getElementsByTagName("state")[0].getAttribute("state")
        if st != "open":
            continue
        s = p.getElementsByTagName("service")
        name = s[0].getAttribute("name") if s else ""
        tunnel = s[0].getAttribute("tunnel") if s else ""
        # method="table": no probe matched; the name is the one of the port in
        # nmap-services, a guess, not an identification.
        if s and s[0].getAttribute("method") == "table":
            name, tunnel = "", ""
        # Its MQTT probe names the broker: "mosquitto version 2.0.11".
        if name.startswith("mosquitto"):
            name = "mqtt"
        m = {"ssh": "ssh", "http": "http", "ftp": "ftp", "telnet": "telnet", "redis": "redis",
             "memcached": "memcached", "mqtt": "mqtt", "mosquitto": "mqtt", "https": "tls", "imaps": "tls", "ssl": "tls",
             "http-proxy": "http", "smtp": "smtp", "pop3": "pop3", "imap": "imap", "vnc": "vnc",
             "mysql": "mysql", "rdp": "rdp", "ms-wbt-server": "rdp", "ldap": "ldap", "rtsp": "rtsp",
             "rsync": "rsync", "amqp": "amqp", "irc": "irc", "mongodb": "mongodb",
             "postgresql": "postgresql", "microsoft-ds": "smb", "netbios-ssn": "smb"}
        proto = "tls" if tunnel == "ssl" else m.get(name, "-" if name in ("", "tcpwrapped", "unknown") else name)
        print(ip, p.getAttribute("portid"), proto)
' "$work/n.xml"
}
read -r r w n ex < <(nmap_lines | score)
row "$label" "${wall[nmap]}" "$r" "$w" "$n" "$ex"
echo "      middlebox ports: $(nmap_lines | awk '$1 ~ /^198\.19\.1\./ { n++; if ($3 != "-") { named++; c[$3]++ } } END { printf "%d open, %d named a service by nmap", n, named; for (k in c) printf " (%s %d)", k, c[k] }')"
tail -n 1 "$work/n.out" | sed 's/^/      /'
