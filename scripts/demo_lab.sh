#!/usr/bin/env bash
# The demo lab: real Debian daemons behind a simulated internet, for
# scripts/run.sh (the README's first command) and tests/demo_lab.rs.
#
#   scripts/demo_lab.sh up NAME DIR [--seed N] [--hosts N] [--hosts6 N]
#   scripts/demo_lab.sh scan NAME BIN OUTDIR [SYNSWEEP SCAN ARGS...]
#   scripts/demo_lab.sh summary FINDINGS.ndjson
#   scripts/demo_lab.sh down NAME                (idempotent)
#
# `up` builds a veth lab with IPv6 (scripts/lab.sh; namespaces sswlab-NAME-s
# and sswlab-NAME-t, no route out, only 198.18.0.0/15 and 2001:2::/48) and
# starts in its target namespace, from DIR (certificates, configurations):
# sshd, nginx (HTTP; TLS with a lab CA's certificate, an expired one, a
# self-signed one and an RSA-1024 one), vsftpd, inetutils-telnetd behind
# socat, redis, mosquitto, memcached (TCP, and UDP on the hosts that have
# it), dnsmasq and snmpd (UDP), and a listener that never accepts, for the
# middlebox. scripts/demo_plan.py draws from the seed which host runs what
# (--hosts IPv4 hosts in 198.19.0.0/26, default 36; --hosts6 IPv6 hosts in
# 2001:2::/122, default 8; the middlebox 198.19.0.62); nftables rules in the
# target namespace make each host answer on its own ports only (RST or ICMP
# port unreachable elsewhere), silence every other address, put services on
# unexpected ports (redirects) and send every port of the middlebox to the
# listener that never accepts. The plan, the lab's ground truth, is DIR/truth.tsv
# (format: scripts/demo_plan.py). Prints eval-able lines: scanner_ns target_ns
# truth targets. With DEMO_OWNER=PID in the environment the lab is built with
# `lab.sh --owner PID` (swept by `lab.sh sweep` once PID is gone).
#
# `scan` runs the demo scan in the lab's scanner namespace with synsweep's
# defaults (identification on) over both families: the risk catalog's TCP
# ports plus U:53,161,11211, writing OUTDIR/findings.ndjson, report.html and
# findings.csv (extra ARGS are appended).
#
# `summary` says what the findings show: protocols named, services on
# unexpected ports, pseudo hosts, UDP amplifiers, IPv6, certificates.
#
# `down` stops every process of the target namespace (all started by `up`)
# and removes the lab. Needs root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB="$HERE/lab.sh"
V4_BLOCK=198.19.0.0/26
V6_BLOCK=2001:2::/122
HOLD=65000
UDP_PORTS=53,161,11211

die() { echo "demo_lab.sh: $*" >&2; exit 1; }
usage() { sed -n '/^#   scripts/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Stop every process in namespace $1: all of them were started there by `up`.
kill_ns() {
    local ns=$1 p round
    [[ -e /run/netns/$ns ]] || return 0
    for round in 1 2 3 4 5 6 7 8 9 10; do
        local pids
        pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
        [[ -n $pids ]] || return 0
        for p in $pids; do
            if ((round < 8)); then kill "$p" 2>/dev/null || true; else kill -9 "$p" 2>/dev/null || true; fi
        done
        sleep 0.1
    done
}

do_down() {
    local name=$1
    kill_ns "sswlab-$name-t"
    "$LAB" down "$name" >/dev/null 2>&1 || true
}

# Certificates: a lab CA; leaves signed by it (good, expired, RSA-1024) and
# a self-signed one.
make_certs() {
    local d=$1/pki
    mkdir -p "$d/db"
    : >"$d/db/index.txt"
    echo 01 >"$d/db/serial"
    cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = lab
[lab]
database = $d/db/index.txt
serial = $d/db/serial
new_certs_dir = $d/db
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
EOF
    openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=synsweep demo lab CA" -days 30 \
        -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    leaf() {  # kind bits start end
        openssl req -newkey "rsa:$2" -nodes -subj "/CN=$1.demo.synsweep.test" \
            -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
        openssl ca -batch -config "$d/ca.cnf" -cert "$d/ca.crt" -keyfile "$d/ca.key" -notext \
            -in "$d/$1.csr" -out "$d/$1.crt" -startdate "$3" -enddate "$4" >/dev/null 2>&1 ||
            die "openssl ca failed for the $1 certificate"
    }
    local now later
    now=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
    later=$(date -u -d '+365 days' +%Y%m%d%H%M%SZ)
    leaf good 2048 "$now" "$later"
    leaf expired 2048 20240101000000Z 20240401000000Z
    leaf rsa1024 1024 "$now" "$later"
    openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=self-signed.demo.synsweep.test" -days 365 \
        -keyout "$d/self-signed.key" -out "$d/self-signed.crt" 2>/dev/null
}

do_up() {
    local name=$1 dir=$2; shift 2
    local seed=1 n4=36 n6=8
    while (($#)); do
        case "$1" in
            --seed) seed=${2:?}; shift 2 ;;
            --hosts) n4=${2:?}; shift 2 ;;
            --hosts6) n6=${2:?}; shift 2 ;;
            *) echo "demo_lab.sh: up: unknown option '$1'" >&2; exit 2 ;;
        esac
    done
    [[ $seed =~ ^[0-9]+$ && $n4 =~ ^[0-9]+$ && $n6 =~ ^[0-9]+$ ]] || { echo "demo_lab.sh: --seed, --hosts, --hosts6 take numbers" >&2; exit 2; }
    [[ $name =~ ^[A-Za-z0-9_]{1,13}$ ]] || { echo "demo_lab.sh: NAME must be 1-13 characters of [A-Za-z0-9_]" >&2; exit 2; }
    local t
    for t in nft ip ss python3 openssl socat redis-server mosquitto memcached dnsmasq ssh-keygen; do
        command -v "$t" >/dev/null || die "$t not found (scripts/run.sh and scripts/test.sh install it)"
    done
    for t in sshd nginx vsftpd snmpd telnetd; do
        [[ -x /usr/sbin/$t ]] || die "/usr/sbin/$t not found (scripts/run.sh and scripts/test.sh install it)"
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    python3 "$HERE/demo_plan.py" "$seed" "$n4" "$n6" >"$dir/truth.tsv"

    # From here on, a failure removes what was built.
    trap 'echo "demo_lab.sh: up failed; removing lab $name" >&2; do_down "$name"' EXIT
    local owner=()
    [[ -n ${DEMO_OWNER:-} ]] && owner=(--owner "$DEMO_OWNER")
    local info
    info=$("$LAB" up "$name" --ipv6 "${owner[@]}") || die "scripts/lab.sh up $name failed"
    eval "$info"
    local tns=$target_ns
    inns() { ip netns exec "$tns" "$@"; }
    # `ip netns exec` execs the daemon: its output goes to DIR/NAME.log.
    bg() { local log=$1; shift; ip netns exec "$tns" "$@" </dev/null >"$dir/$log.log" 2>&1 & disown; }
    inns sysctl -q -w net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 \
        net.ipv6.icmp.ratelimit=0 net.core.somaxconn=65535

    # IPv6 hosts get their address on lo too: dnsmasq answers over IPv6 only
    # on an interface's address, snmpd (bound to each) replies from it.
    local a6
    for a6 in $(awk -F'\t' '($1 == "tcp" || $1 == "udp") && $2 ~ /:/ { print $2 }' "$dir/truth.tsv" | sort -u); do
        inns ip addr add "$a6/128" dev lo nodad
    done
    local snmp6
    snmp6=$(awk -F'\t' '$1 == "udp" && $2 ~ /:/ && $5 == "snmp" { printf ",udp6:[%s]:161", $2 }' "$dir/truth.tsv")
    make_certs "$dir"
    local pki=$dir/pki
    mkdir -p /run/sshd "$dir/nginx" "$dir/ftp-empty"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"
    bg sshd /usr/sbin/sshd -D -e -f /dev/null -h "$dir/hostkey" -o ListenAddress=0.0.0.0:22 \
        -o ListenAddress=[::]:22 -o MaxStartups=2000 -o PidFile=none
    local n=$dir/nginx
    cat >"$dir/nginx.conf" <<EOF
daemon off; master_process off; user root; worker_processes 1; pid $dir/nginx.pid;
error_log stderr; events { worker_connections 4096; }
http { access_log off; client_body_temp_path $n/body; proxy_temp_path $n/proxy;
  fastcgi_temp_path $n/fcgi; uwsgi_temp_path $n/uwsgi; scgi_temp_path $n/scgi;
  server_tokens on;
  server { listen 80; listen [::]:80; location / { default_type text/html;
    return 200 "<html><head><title>synsweep demo</title></head><body>demo</body></html>\n"; } }
  server { listen 443 ssl; listen [::]:443 ssl; ssl_certificate $pki/good.crt; ssl_certificate_key $pki/good.key;
    location / { return 200 "demo\n"; } }
  server { listen 10443 ssl; listen [::]:10443 ssl; ssl_certificate $pki/expired.crt; ssl_certificate_key $pki/expired.key;
    location / { return 200 "demo\n"; } }
  server { listen 10444 ssl; listen [::]:10444 ssl; ssl_certificate $pki/self-signed.crt;
    ssl_certificate_key $pki/self-signed.key; location / { return 200 "demo\n"; } }
  # RSA-1024 is below OpenSSL's default security level: allowed here.
  server { listen 10445 ssl; listen [::]:10445 ssl; ssl_ciphers DEFAULT:@SECLEVEL=0;
    ssl_certificate $pki/rsa1024.crt; ssl_certificate_key $pki/rsa1024.key; location / { return 200 "demo\n"; } }
}
EOF
    bg nginx /usr/sbin/nginx -p "$n" -c "$dir/nginx.conf"
    bg redis redis-server --port 6379 --bind '0.0.0.0 ::' --protected-mode no --save '' \
        --appendonly no --dir "$dir"
    printf 'listen=NO\nlisten_ipv6=YES\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\nseccomp_sandbox=NO\nmax_clients=0\nmax_per_ip=0\nsecure_chroot_dir=%s\n' \
        "$dir/ftp-empty" >"$dir/vsftpd.conf"
    bg vsftpd /usr/sbin/vsftpd "$dir/vsftpd.conf"
    printf 'listener 1883\nallow_anonymous true\nmax_connections -1\n' >"$dir/mosquitto.conf"
    bg mosquitto mosquitto -c "$dir/mosquitto.conf"
    bg telnetd socat TCP6-LISTEN:23,ipv6only=0,reuseaddr,fork,backlog=1024 EXEC:/usr/sbin/telnetd,nofork
    bg memcached memcached -u root -l 0.0.0.0 -p 11211 -U 0 -c 4096
    # memcached over UDP answers from its socket's address: bound to the
    # hosts that have it.
    local mc
    mc=$(awk -F'\t' '$1 == "udp" && $5 == "memcached" { printf "%s%s", sep, $2; sep = "," }' "$dir/truth.tsv")
    if [[ -n $mc ]]; then
        bg memcached-udp memcached -u root -l "$mc" -U 11211 -p 0
    fi
    bg dnsmasq dnsmasq --conf-file=/dev/null --keep-in-foreground --no-resolv --no-hosts --user=root \
        "--pid-file=$dir/dnsmasq.pid" --server=/invalid/
    printf 'rocommunity public 198.18.0.0/15\nrocommunity6 public 2001:2::/48\nsysDescr synsweep demo lab\nsysLocation lab namespace %s\n' \
        "$tns" >"$dir/snmpd.conf"
    bg snmpd /usr/sbin/snmpd -f -Lo -C -c "$dir/snmpd.conf" -p "$dir/snmpd.pid" "udp:161$snmp6"
    bg hold python3 -c "import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', $HOLD)); s.listen(65535)
while True: time.sleep(3600)"

    local p ok
    for p in t21 t22 t23 t80 t443 t10443 t10444 t10445 t1883 t6379 t11211 t$HOLD u53 u161 ${mc:+u11211}; do
        ok=0
        for _ in $(seq 200); do
            if [[ -n $(inns ss -Hln -"${p:0:1}" "sport = :${p:1}") ]]; then ok=1; break; fi
            sleep 0.05
        done
        ((ok)) || die "nothing listens on ${p:1}/${p:0:1}cp in the target namespace (logs in $dir)"
    done

    # Who answers where: the plan as nftables sets, redirects and rules.
    local rules
    rules=$(awk -F'\t' -v hold="$HOLD" -v v4="$V4_BLOCK" -v v6="$V6_BLOCK" '
        function add(set, e) { sets[set] = sets[set] (sets[set] == "" ? "" : ", ") e }
        $1 == "middlebox" { mb = $2; add("alive4", $2) }
        $1 == "tcp" || $1 == "udp" {
            v = ($2 ~ /:/) ? "6" : "4"
            if (!(($2) in seen)) { seen[$2] = 1; add("alive" v, $2) }
            add($1 v, $2 " . " $3)
            if ($4 != $3) redir = redir sprintf("    ip%s daddr %s tcp dport %s redirect to :%s\n", v == "6" ? "6" : "", $2, $3, $4)
        }
        END {
            print "table inet demolab {"
            print "  set alive4 { type ipv4_addr; elements = { " sets["alive4"] " } }"
            if (sets["alive6"] != "") print "  set alive6 { type ipv6_addr; elements = { " sets["alive6"] " } }"
            else print "  set alive6 { type ipv6_addr; }"
            split("tcp4 udp4 tcp6 udp6", k, " ")
            for (i = 1; i <= 4; i++) {
                t = (substr(k[i], 4, 1) == "4" ? "ipv4_addr" : "ipv6_addr") " . inet_service"
                printf "  set %s { type %s; %s}\n", k[i], t, sets[k[i]] == "" ? "" : "elements = { " sets[k[i]] " } "
            }
            print "  chain pre {"
            print "    type filter hook prerouting priority raw; policy accept;"
            print "    iif lo accept"
            print "    ip daddr 198.19.0.0/16 ip daddr != @alive4 drop"
            print "    ip6 daddr 2001:2::/64 ip6 daddr != @alive6 drop"
            print "    ip daddr " mb " meta l4proto tcp accept"
            print "    ip daddr . tcp dport != @tcp4 meta mark set 0x5e1"
            print "    ip daddr . udp dport != @udp4 meta mark set 0x5e2"
            print "    ip6 daddr . tcp dport != @tcp6 meta mark set 0x5e1"
            print "    ip6 daddr . udp dport != @udp6 meta mark set 0x5e2"
            print "  }"
            print "  chain nat {"
            print "    type nat hook prerouting priority dstnat; policy accept;"
            print "    ip daddr " mb " tcp dport != " hold " redirect to :" hold
            printf "%s", redir
            print "  }"
            print "  chain input {"
            print "    type filter hook input priority filter; policy accept;"
            print "    meta mark 0x5e1 meta l4proto tcp reject with tcp reset"
            print "    meta mark 0x5e2 reject"
            print "  }"
            print "}"
        }' "$dir/truth.tsv")
    printf '%s\n' "$rules" >"$dir/demolab.nft"
    inns nft -f "$dir/demolab.nft" || die "nft rules failed (see $dir/demolab.nft)"
    trap - EXIT
    echo "scanner_ns=$scanner_ns"
    echo "target_ns=$tns"
    echo "truth=$dir/truth.tsv"
    echo "targets=$V4_BLOCK,$V6_BLOCK"
}

do_scan() {
    local name=$1 bin=$2 out=$3; shift 3
    mkdir -p "$out"
    local tcp
    tcp=$("$bin" catalog | awk '$1 ~ /\/tcp$/ { sub("/tcp", "", $1); printf "%s%s", sep, $1; sep = "," }')
    [[ -n $tcp ]] || die "no TCP port in synsweep's catalog"
    # Defaults (identification on); both families; TCP and UDP.
    "$LAB" exec "$name" -- "$bin" scan "$V4_BLOCK" "$V6_BLOCK" -p "T:$tcp,U:$UDP_PORTS" \
        -o "$out/findings.ndjson" -o "$out/report.html" -o "$out/findings.csv" "$@"
}

do_summary() {
    python3 - "$1" <<'EOF'
import collections, datetime, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
open_ = [r for r in recs if r.get("state") == "open" and r.get("reason") in ("syn-ack", "udp-response")]
hosts = {r["ip"] for r in open_}
v6 = [r for r in open_ if ":" in r["ip"]]
print(f"demo: {len(open_)} open ports on {len(hosts)} hosts "
      f"({len(hosts) - len({r['ip'] for r in v6})} IPv4, {len({r['ip'] for r in v6})} IPv6)")
named = collections.Counter(r["protocol"] for r in open_ if r.get("protocol"))
print(f"  {len(named)} protocols named by what answers: "
      + ", ".join(f"{p} {n}" for p, n in named.most_common()))
unexpected = collections.Counter()
# Where each protocol is at home (the rest: a service where nobody expects it).
catalog_guess = {"ssh": {22, 2222}, "telnet": {23, 2323}, "ftp": {21}, "mqtt": {1883, 8883},
                 "http": {80, 8000, 8008, 8080, 8081, 8088, 8888}, "redis": {6379}, "memcached": {11211},
                 "dns": {53}, "snmp": {161}, "tls": {443, 8443, 993, 995, 465, 636, 853, 992}}
for r in open_:
    p = r.get("protocol")
    if p in catalog_guess and r["port"] not in catalog_guess[p]:
        unexpected[(p, r["port"], r["proto"])] += 1
if unexpected:
    print("  on unexpected ports: " + ", ".join(f"{p} on {port}/{pr} ({n} hosts)" for (p, port, pr), n in sorted(unexpected.items())))
pseudo = collections.Counter(r["ip"] for r in open_ if r.get("pseudo"))
print(f"  {len(pseudo)} pseudo host{'' if len(pseudo) == 1 else 's'} (answers on every port, nothing behind;"
      " its ports cost no score)" + "".join(f"{', ' if i else ': '}{h} ({n} ports)" for i, (h, n) in enumerate(pseudo.items())))
amp = sorted((r for r in open_ if (r.get("amplification") or 0) >= 2), key=lambda r: -r["amplification"])
def endpoint(r):
    return f"[{r['ip']}]:{r['port']}" if ":" in r["ip"] else f"{r['ip']}:{r['port']}"
print(f"  {len(amp)} UDP amplifier{'' if len(amp) == 1 else 's'}: " + ", ".join(
    f"{r.get('protocol') or r['service']} {endpoint(r)} x{r['amplification']:.1f}" for r in amp[:6])
      + (f" and {len(amp) - 6} more" if len(amp) > 6 else ""))
print(f"  IPv6: {len(v6)} findings on {len({r['ip'] for r in v6})} hosts")
now = datetime.datetime.now(datetime.timezone.utc)
issues = collections.Counter()
for r in recs:
    c = ((r.get("tls") or {}).get("cert")) or {}
    if not c:
        continue
    try:
        if datetime.datetime.fromisoformat(c["not_after"].replace("Z", "+00:00")) < now:
            issues["expired"] += 1
    except (KeyError, ValueError):
        pass
    if c.get("self_signed"):
        issues["self-signed"] += 1
    if 0 < c.get("key_bits", 0) < 2048:
        issues[f"{c.get('key', 'key').upper()}-{c['key_bits']}"] += 1
if issues:
    print("  TLS certificates: " + ", ".join(f"{n} {k}" for k, n in issues.items()))
EOF
}

(($# >= 1)) || usage
cmd=$1; shift
case "$cmd" in
    up) (($# >= 2)) || usage; [[ $EUID -eq 0 ]] || die "must run as root"; do_up "$@" ;;
    scan) (($# >= 3)) || usage; do_scan "$@" ;;
    summary) (($# == 1)) || usage; do_summary "$1" ;;
    down) (($# >= 1)) || usage; do_down "$1" ;;
    *) usage ;;
esac
