#!/usr/bin/env bash
# Capture the replies of real Debian daemons to synsweep's UDP payloads: the
# test vectors of tests/udp_vectors.rs.
#
#   scripts/udp_vectors.sh OUTDIR [--no-ad]
#
# As root. Builds two network namespaces joined by one veth pair and nothing
# else (no route out): the daemons' (198.18.77.1) and the prober's
# (198.18.77.2). Starts each daemon there, bound to 198.18.77.1, sends each
# payload with cookie 9c3a51e7 from an ordinary UDP socket
# (examples/udp_capture.rs) and writes the replies to OUTDIR/NAME-N.bin.
# Every daemon is stopped and both namespaces removed at exit, also on
# failure. --no-ad skips the Samba AD DC (CLDAP), whose provisioning takes
# a minute or two.
#
# Debian packages: dnsmasq-base chrony snmpd memcached tftpd-hpa rpcbind
# samba samba-ad-dc samba-ad-provision wsdd openipmi libcoap3-bin minissdpd
# xinetd strongswan-charon openvpn avahi-daemon nftables openssl python3.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 OUTDIR [--no-ad]" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "$0: needs root (network namespaces)" >&2; exit 1; }
out=$(realpath -m "$1")
ad=1
[[ ${2:-} == --no-ad ]] && ad=0
cd "$(dirname "$0")/.."
mkdir -p "$out"

cargo build -q --example udp_capture
cap=$PWD/target/debug/examples/udp_capture
cookie=9c3a51e7
srv=synsweep-udpvec-$$
cli=synsweep-udpcli-$$
tmp=$(mktemp -d /tmp/synsweep-udpvec.XXXXXX)
pids=()

cleanup() {
    set +e
    for ns in "$srv" "$cli"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    sleep 1
    for ns in "$srv" "$cli"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

S() { ip netns exec "$srv" "$@"; }
C() { ip netns exec "$cli" "$@"; }
bg() { S "$@" >>"$tmp/daemons.log" 2>&1 & pids+=($!); }
grab() { C "$cap" "$1" "198.18.77.1:$2" "$cookie" "$out"; }
wait_port() { # wait_port PORT: until something listens on UDP PORT in $srv
    for _ in $(seq 50); do
        S ss -Huln "sport = :$1" | grep -q . && return 0
        sleep 0.2
    done
    echo "$0: nothing listens on udp/$1; see $tmp/daemons.log" >&2
    cat "$tmp/daemons.log" >&2
    exit 1
}

ip netns add "$srv"
ip netns add "$cli"
ip -n "$srv" link set lo up
ip -n "$cli" link set lo up
ip -n "$srv" link add v0 type veth peer name v1 netns "$cli"
ip -n "$srv" addr add 198.18.77.1/24 dev v0
ip -n "$cli" addr add 198.18.77.2/24 dev v1
ip -n "$srv" link set v0 up
ip -n "$cli" link set v1 up

# dnsmasq: no upstream; .invalid answered locally (NXDOMAIN).
bg dnsmasq --conf-file=/dev/null --keep-in-foreground --no-resolv --no-hosts --listen-address=198.18.77.1 \
    --bind-interfaces --user=root --pid-file="$tmp/dnsmasq.pid" --server=/invalid/
# memcached with UDP.
bg memcached -u root -l 198.18.77.1 -U 11211 -p 0
# chrony as a server.
cat >"$tmp/chrony.conf" <<EOF
allow 198.18.77.0/24
bindaddress 198.18.77.1
cmdport 0
local stratum 8
driftfile $tmp/chrony.drift
pidfile $tmp/chrony.pid
EOF
bg chronyd -d -x -u root -f "$tmp/chrony.conf"
# net-snmp with community public.
cat >"$tmp/snmpd.conf" <<EOF
rocommunity public 198.18.77.0/24
sysDescr synsweep lab agent
sysName lab
EOF
bg snmpd -f -Lo -C -c "$tmp/snmpd.conf" -p "$tmp/snmpd.pid" udp:198.18.77.1:161
# tftpd-hpa with an empty root.
mkdir -p "$tmp/tftp"
bg in.tftpd -4 -L -u root -a 198.18.77.1:69 -s "$tmp/tftp"
# rpcbind (all addresses of the namespace).
mkdir -p /run/rpcbind
bg rpcbind -f -w
# xinetd's internal chargen.
cat >"$tmp/xinetd.conf" <<EOF
defaults
{
}
service chargen
{
    type = INTERNAL
    id = chargen-dgram
    socket_type = dgram
    protocol = udp
    user = root
    wait = yes
    bind = 198.18.77.1
}
EOF
bg xinetd -dontfork -f "$tmp/xinetd.conf" -pidfile "$tmp/xinetd.pid"
# libcoap's example server.
bg coap-server-notls -A 198.18.77.1 -p 5683
# OpenIPMI's BMC simulator (stdin kept open: it quits at end of input).
cat >"$tmp/lan.conf" <<EOF
name "lab"
set_working_mc 0x20
  startlan 1
    addr 198.18.77.1 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 2 true "lab" "labpass" admin 10 md5
EOF
cat >"$tmp/ipmi.emu" <<EOF
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EOF
mkdir -p "$tmp/ipmistate"
mkfifo "$tmp/ipmi.in"
exec 9<>"$tmp/ipmi.in"
bg ipmi_sim -c "$tmp/lan.conf" -f "$tmp/ipmi.emu" -s "$tmp/ipmistate" -n <"$tmp/ipmi.in"
# OpenVPN in TLS server mode (no tls-auth), throwaway certificates.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$tmp/ca.key" -out "$tmp/ca.crt" -subj /CN=lab-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj /CN=lab-server 2>/dev/null
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
    -CAcreateserial -out "$tmp/server.crt" -days 1 2>/dev/null
bg openvpn --tls-server --proto udp4 --local 198.18.77.1 --port 1194 --dev null \
    --ca "$tmp/ca.crt" --cert "$tmp/server.crt" --key "$tmp/server.key" --dh none --verb 1
# strongSwan's charon with no connection: answers NO_PROPOSAL_CHOSEN.
cat >"$tmp/strongswan.conf" <<EOF
charon {
  port = 500
  port_nat_t = 4500
  install_routes = no
}
EOF
bg env STRONGSWAN_CONF="$tmp/strongswan.conf" /usr/lib/ipsec/charon
# avahi on the veth, publishing the workstation service.
cat >"$tmp/avahi.conf" <<EOF
[server]
host-name=synsweeplab
use-ipv4=yes
use-ipv6=no
allow-interfaces=v0
enable-dbus=no
[publish]
publish-workstation=yes
EOF
bg avahi-daemon -f "$tmp/avahi.conf" --no-drop-root --no-chroot --no-rlimits
# wsdd answers probes only on its multicast socket: inside the daemons'
# namespace, probes to 198.18.77.1:3702 are redirected to the group address.
S nft add table ip wsdlab
S nft add chain ip wsdlab pre '{ type nat hook prerouting priority -100; }'
S nft add rule ip wsdlab pre ip daddr 198.18.77.1 udp dport 3702 dnat to 239.255.255.250
bg wsdd -i v0 -4 -n SYNSWEEPLAB
# minissdpd with one registered device (its unix socket protocol: type 4,
# then length-prefixed ST, USN, server, location).
bg minissdpd -d -i v0 -s "$tmp/minissdpd.sock" -p "$tmp/minissdpd.pid"
# nmbd (NetBIOS name server).
mkdir -p "$tmp/samba"/{lock,state,cache,pid,priv,log}
cat >"$tmp/smb.conf" <<EOF
[global]
workgroup = LAB
netbios name = SYNSWEEPLAB
interfaces = v0
lock directory = $tmp/samba/lock
state directory = $tmp/samba/state
cache directory = $tmp/samba/cache
pid directory = $tmp/samba/pid
private dir = $tmp/samba/priv
log file = $tmp/samba/log/%m.log
EOF
bg nmbd -F --no-process-group -s "$tmp/smb.conf"

for p in 53 11211 123 161 69 111 19 5683 623 1194 500 4500 5353 3702 1900 137; do wait_port "$p"; done
S python3 - "$tmp/minissdpd.sock" <<'EOF'
import socket, sys
def enc(s):
    b = s.encode()
    return bytes([len(b)]) + b
dev = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
msg = bytes([4]) + enc(dev) + enc("uuid:5e7e0000-0000-4000-8000-000000000001::" + dev) \
    + enc("Linux UPnP/1.1 synsweep-lab/1.0") + enc("http://198.18.77.1:5000/rootDesc.xml")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.send(msg)
s.close()
EOF
sleep 2 # avahi announces, wsdd says hello

grab dns-version-bind 53
grab dns-recursive 53
grab memcached-stats 11211
grab ntp-client 123
grab snmp-v2c-public 161
grab snmp-v1-public 161
grab tftp-rrq 69
grab portmap-dump 111
grab chargen 19
grab coap-well-known-core 5683
grab ipmi-presence-ping 623
grab openvpn-hard-reset 1194
grab ike-sa-init 500
grab ike-v1-main-mode 500
grab ike-sa-init-natt 4500
grab mdns-services 5353
grab wsd-probe-device 3702
grab ssdp-msearch 1900
grab netbios-nbstat 137

if ((ad)); then
    # Samba AD DC: CLDAP (and its own NetBIOS name server, in nmbd's place).
    for p in $(ip netns pids "$srv"); do
        [[ $(cat /proc/"$p"/comm 2>/dev/null) == nmbd ]] && kill "$p"
    done
    S samba-tool domain provision --realm=LAB.TEST --domain=LAB --server-role=dc \
        --dns-backend=NONE --adminpass='Lab-pass-2026!' --targetdir="$tmp/ad" \
        --host-ip=198.18.77.1 --host-name=labdc --option="interfaces=v0" \
        --option="bind interfaces only=yes" >>"$tmp/daemons.log" 2>&1
    bg samba -i -M single -s "$tmp/ad/etc/smb.conf"
    wait_port 389
    mkdir -p "$tmp/ad-out"
    C "$cap" cldap-rootdse 198.18.77.1:389 "$cookie" "$out"
    C "$cap" netbios-nbstat 198.18.77.1:137 "$cookie" "$tmp/ad-out"
    mv "$tmp/ad-out/netbios-nbstat-0.bin" "$out/netbios-nbstat-samba-ad-0.bin"
fi
echo "vectors in $out"
