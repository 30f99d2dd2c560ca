#!/usr/bin/env bash
# TLS certificate facts side by side in one lab run: synsweep (defaults on:
# the certificate is read in the scan's own pass), synsweep --no-identify
# (the SYN scan it costs against) and `nmap -sV --script ssl-cert`, each
# checked against `openssl x509` on the certificates the lab made.
#
#   scripts/tls_vs_nmap.sh [--skip-build] [--no-nmap]
#
# Lab (scripts/lab.sh, veth shape): twelve hosts 198.19.0.1-198.19.0.12,
# each with its own nginx server (one per port, nftables redirects
# 198.19.0.K:443 to it) and its own certificate, made here by openssl:
#
#    1 valid (signed by the lab CA)     7 825-day lifetime
#    2 expired                          8 expiring in 10 days
#    3 not yet valid                    9 TLS 1.3 only
#    4 self-signed                     10 TLS 1.2 only
#    5 RSA 1024                        11 TLS 1.0 only
#    6 signed with SHA-1               12 TLS 1.2/1.3, also accepts 1.0
#
# A tool agrees on a host when it reports the certificate's subject CN,
# issuer CN, notBefore and notAfter (to the second), key type and bits,
# signature algorithm and fingerprint (synsweep: SHA-256; nmap 7.93 prints
# SHA-1 and MD5 only, so its SHA-1 is compared) as openssl prints them.
# Every packet stays inside the lab's two namespaces (unique names, torn
# down on exit with the daemons). Needs root, nginx, openssl, nmap, jq,
# python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab="$here/lab.sh"
build=1
nmap=1
while (($#)); do
    case "$1" in
        --skip-build) build=0; shift ;;
        --no-nmap) nmap=0; shift ;;
        *) echo "usage: $0 [--skip-build] [--no-nmap]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "tls_vs_nmap.sh: must run as root (network namespaces)" >&2; exit 1; }
for t in nginx openssl jq python3; do
    command -v "$t" >/dev/null || [[ -x /usr/sbin/$t ]] || { echo "tls_vs_nmap.sh: $t not found" >&2; exit 1; }
done
((nmap == 0)) || command -v nmap >/dev/null || { echo "tls_vs_nmap.sh: nmap not found (or --no-nmap)" >&2; exit 1; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin="$CARGO_TARGET_DIR/release/synsweep"
work=$(mktemp -d /tmp/synsweep-tlsnmap.XXXXXX)
name="tn$$"
pids=()
cleanup() {
    local p
    for p in "${pids[@]:-}"; do
        [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]:-}"; do
        [[ -n "$p" ]] && wait "$p" 2>/dev/null || true
    done
    "$lab" down "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((build)); then
    (cd "$root" && cargo build --release --quiet)
fi

# --- Certificates -----------------------------------------------------------
# `openssl ca` sets any start and end date (OpenSSL 3.0 has no
# -not_before/-not_after on req or x509).
cd "$work"
mkdir -p ca/new && : >ca/index && echo 1000 >ca/serial
cat >ca.cnf <<EOF
[ca]
default_ca = lab
[lab]
dir = $work/ca
database = \$dir/index
new_certs_dir = \$dir/new
serial = \$dir/serial
policy = any
unique_subject = no
copy_extensions = copy
email_in_dn = no
[any]
commonName = supplied
organizationName = optional
[ext]
basicConstraints = CA:FALSE
subjectAltName = \$ENV::SAN
EOF
stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
openssl req -x509 -newkey rsa:2048 -nodes -subj "/O=synsweep lab/CN=synsweep lab CA" -days 3650 \
    -keyout ca.key -out ca.crt 2>/dev/null
# cert K CN START END [KEYBITS] [MD] [self]
cert() {
    local k=$1 cn=$2 start=$3 end=$4 bits=${5:-2048} md=${6:-sha256} self=${7:-}
    export SAN="DNS:$cn"
    openssl req -new -newkey "rsa:$bits" -nodes -subj "/O=synsweep lab/CN=$cn" \
        -keyout "h$k.key" -out "h$k.csr" 2>/dev/null
    if [[ -n $self ]]; then
        openssl ca -batch -config ca.cnf -selfsign -keyfile "h$k.key" -extensions ext \
            -startdate "$(stamp "$start")" -enddate "$(stamp "$end")" -md "$md" \
            -in "h$k.csr" -out "h$k.crt" 2>/dev/null
    else
        openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -extensions ext \
            -startdate "$(stamp "$start")" -enddate "$(stamp "$end")" -md "$md" \
            -in "h$k.csr" -out "h$k.crt" 2>/dev/null
    fi
    openssl x509 -in "h$k.crt" -out "h$k.crt" # PEM without the text dump
}
cert 1 valid.lab "-10 days" "+200 days"
cert 2 expired.lab "-400 days" "-35 days"
cert 3 notyet.lab "+20 days" "+300 days"
cert 4 selfsigned.lab "-10 days" "+200 days" 2048 sha256 self
cert 5 rsa1024.lab "-10 days" "+200 days" 1024
cert 6 sha1.lab "-10 days" "+200 days" 2048 sha1
cert 7 longlife.lab "-5 days" "+820 days"
cert 8 expiring.lab "-300 days" "+10 days"
cert 9 tls13only.lab "-10 days" "+200 days"
cert 10 tls12only.lab "-10 days" "+200 days"
cert 11 tls10only.lab "-10 days" "+200 days"
cert 12 alsotls10.lab "-10 days" "+200 days"
desc=("" valid expired not-yet-valid self-signed rsa-1024 sha1-signed 825-day-lifetime
    expiring-in-10-days tls1.3-only tls1.2-only tls1.0-only 1.2/1.3+1.0)
protocols=("" "TLSv1.2 TLSv1.3" "TLSv1.2 TLSv1.3" "TLSv1.2 TLSv1.3" "TLSv1.2 TLSv1.3"
    "TLSv1.2 TLSv1.3" "TLSv1.2 TLSv1.3" "TLSv1.2 TLSv1.3" "TLSv1.2 TLSv1.3" "TLSv1.3" "TLSv1.2"
    "TLSv1" "TLSv1 TLSv1.2 TLSv1.3")

# --- Lab ----------------------------------------------------------------------
eval "$("$lab" up "$name")"
tns=$target_ns; sns=$scanner_ns
inns() { ip netns exec "$tns" "$@"; }
bg() { ip netns exec "$tns" "$@" >/dev/null 2>&1 & pids+=($!); }
t=$work/nginx
mkdir -p "$t"
{
    echo "daemon off; master_process off; user root; worker_processes 1; pid $work/nginx.pid;"
    echo "error_log stderr; events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $t/body; proxy_temp_path $t/proxy;"
    echo "  fastcgi_temp_path $t/fcgi; uwsgi_temp_path $t/uwsgi; scgi_temp_path $t/scgi;"
    for k in $(seq 12); do
        echo "  server { listen $((20000 + k)) ssl; ssl_certificate $work/h$k.crt;"
        echo "    ssl_certificate_key $work/h$k.key; ssl_protocols ${protocols[$k]};"
        echo "    ssl_ciphers DEFAULT:@SECLEVEL=0; location / { return 200 \"host $k\\n\"; } }"
    done
    echo "}"
} >nginx.conf
bg /usr/sbin/nginx -p "$t" -c "$work/nginx.conf"
for k in $(seq 12); do
    p=$((20000 + k))
    for _ in $(seq 100); do
        [[ -n $(inns ss -Htln "sport = :$p") ]] && break
        sleep 0.1
    done
    [[ -n $(inns ss -Htln "sport = :$p") ]] || { echo "tls_vs_nmap.sh: nginx not listening on $p" >&2; exit 1; }
done
{
    echo "table ip tlslab {"
    echo "  chain pre {"
    echo "    type nat hook prerouting priority dstnat; policy accept;"
    for k in $(seq 12); do echo "    ip daddr 198.19.0.$k tcp dport 443 redirect to :$((20000 + k))"; done
    echo "  }"
    echo "}"
} | inns nft -f -

# --- Truth: openssl x509 on each certificate ---------------------------------
python3 - "$work" >truth.json <<'EOF'
import json, subprocess, sys
w = sys.argv[1]
def x(k, *a):
    return subprocess.run(["openssl", "x509", "-in", f"{w}/h{k}.crt", "-noout", *a],
                          capture_output=True, text=True, check=True).stdout
out = {}
for k in range(1, 13):
    text = x(k, "-text")
    cn = lambda s: s.split("CN=")[-1].split(",")[0].strip()
    dates = dict(l.split("=", 1) for l in x(k, "-dates").split("\n") if "=" in l)
    fp256 = x(k, "-fingerprint", "-sha256").split("=", 1)[1].strip().replace(":", "").lower()
    fp1 = x(k, "-fingerprint", "-sha1").split("=", 1)[1].strip().replace(":", "").lower()
    bits = int(text.split("Public-Key: (")[1].split(" bit")[0])
    sig = text.split("Signature Algorithm: ")[1].split("\n")[0].strip()
    out[f"198.19.0.{k}"] = dict(subject=cn(x(k, "-subject", "-nameopt", "RFC2253")),
        issuer=cn(x(k, "-issuer", "-nameopt", "RFC2253")),
        not_before=dates["notBefore"], not_after=dates["notAfter"], key="rsa", bits=bits,
        sig=sig, sha256=fp256, sha1=fp1)
json.dump(out, sys.stdout)
EOF

now() { date +%s.%N; }
echo "synsweep TLS facts vs nmap ssl-cert: $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A wall
for mode in plain ident; do
    extra=(); [[ $mode == plain ]] && extra=(--no-identify)
    t0=$(now)
    timeout -s INT 120 ip netns exec "$sns" "$bin" scan 198.19.0.1-198.19.0.12 -p 443 --rate 2000 --wait 2 -q \
        "${extra[@]}" -o "$work/$mode.ndjson" >"$work/$mode.out" 2>&1 || true
    wall[$mode]=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
done
if ((nmap)); then
    t0=$(now)
    timeout -s INT 600 ip netns exec "$sns" nmap -n -Pn -sS -sV --script ssl-cert -p 443 \
        198.19.0.1-12 -oX "$work/nmap.xml" >/dev/null 2>&1 || true
    wall[nmap]=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
fi

python3 - "$work" "${wall[ident]}" "${wall[plain]}" "${wall[nmap]:-}" "${desc[@]:1}" <<'EOF'
import json, sys, datetime, xml.etree.ElementTree as ET
w, t_ident, t_plain, t_nmap, desc = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5:]
truth = json.load(open(f"{w}/truth.json"))
def ossl_time(s):  # "Jan  2 03:04:05 2027 GMT" -> datetime
    return datetime.datetime.strptime(" ".join(s.split()), "%b %d %H:%M:%S %Y GMT")
def iso(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
def cn(s):
    for part in s.replace("/", ",").split(","):
        if part.strip().lower().startswith(("cn=", "commonname=")):
            return part.split("=", 1)[1].strip()
    return s
ours, aspects = {}, {}
for line in open(f"{w}/ident.ndjson"):
    r = json.loads(line)
    if r.get("reason") == "syn-ack":
        ours[r["ip"]] = r
    elif r.get("service", "").startswith("tls-"):
        aspects.setdefault(r["ip"], []).append(r["service"])
def check_ours(ip, t):
    c = ((ours.get(ip) or {}).get("tls") or {}).get("cert")
    if not c:
        return "no certificate"
    bad = []
    if cn(c.get("subject", "")) != t["subject"]: bad.append("subject")
    if cn(c.get("issuer", "")) != t["issuer"]: bad.append("issuer")
    if iso(c.get("not_before", "0000-00-00T00:00:00")) != ossl_time(t["not_before"]): bad.append("not_before")
    if iso(c.get("not_after", "0000-00-00T00:00:00")) != ossl_time(t["not_after"]): bad.append("not_after")
    if c.get("key") != t["key"] or c.get("key_bits") != t["bits"]: bad.append("key")
    if c.get("sig") != t["sig"]: bad.append("sig")
    if c.get("sha256") != t["sha256"]: bad.append("sha256")
    return "agrees" if not bad else "differs: " + ",".join(bad)
theirs = {}
if t_nmap:
    try:
        root = ET.parse(f"{w}/nmap.xml").getroot()
    except Exception:
        root = None
    for h in (root.iter("host") if root is not None else []):
        ip = h.find("address").get("addr")
        s = h.find(".//script[@id='ssl-cert']")
        if s is None:
            continue
        d = {}
        for tbl in s.findall("table"):
            d[tbl.get("key")] = {e.get("key"): e.text for e in tbl.findall("elem")}
        for e in s.findall("elem"):
            d[e.get("key")] = e.text
        theirs[ip] = d
def check_nmap(ip, t):
    d = theirs.get(ip)
    if not d:
        return "no certificate"
    bad = []
    if (d.get("subject") or {}).get("commonName") != t["subject"]: bad.append("subject")
    if (d.get("issuer") or {}).get("commonName") != t["issuer"]: bad.append("issuer")
    v = d.get("validity") or {}
    if iso(v.get("notBefore", "0000-00-00T00:00:00")) != ossl_time(t["not_before"]): bad.append("not_before")
    if iso(v.get("notAfter", "0000-00-00T00:00:00")) != ossl_time(t["not_after"]): bad.append("not_after")
    pk = d.get("pubkey") or {}
    if pk.get("type") != t["key"] or str(pk.get("bits")) != str(t["bits"]): bad.append("key")
    if d.get("sig_algo") != t["sig"]: bad.append("sig")
    fp = (d.get("sha256") or d.get("sha1") or "").replace(" ", "").lower()
    if fp not in (t["sha256"], t["sha1"]): bad.append("fingerprint")
    return "agrees" if not bad else "differs: " + ",".join(bad)
print(f"  {'host':<13} {'certificate':<20} {'synsweep':<22} {'nmap ssl-cert':<22} synsweep's problem records")
agree_ours = agree_nmap = 0
for k in range(1, 13):
    ip = f"198.19.0.{k}"
    a, b = check_ours(ip, truth[ip]), (check_nmap(ip, truth[ip]) if t_nmap else "-")
    agree_ours += a == "agrees"; agree_nmap += b == "agrees"
    print(f"  {ip:<13} {desc[k-1]:<20} {a:<22} {b:<22} {' '.join(sorted(aspects.get(ip, []))) or '-'}")
print(f"  synsweep: {agree_ours}/12 certificates agree with openssl x509; wall {t_ident:.2f} s "
      f"({t_ident / t_plain:.2f}x --no-identify, {t_plain:.2f} s)")
if t_nmap:
    print(f"  nmap -sV --script ssl-cert: {agree_nmap}/12 agree; wall {float(t_nmap):.2f} s")
EOF
