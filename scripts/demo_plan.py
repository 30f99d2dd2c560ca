#!/usr/bin/env python3
"""The demo lab's plan (scripts/demo_lab.sh): which lab host runs which
service on which port, drawn from a seed. Pure: prints the plan, builds
nothing.

  demo_plan.py SEED HOSTS4 HOSTS6

Output, one fact per line, tab-separated (the demo lab's ground truth):

  tcp  ADDR PORT BACKEND PROTOCOL   ADDR answers PORT/tcp; the daemon behind it
                                    listens on BACKEND (PORT != BACKEND: an
                                    nftables redirect, a service on a port
                                    where nobody expects it); PROTOCOL is what
                                    it speaks
  udp  ADDR PORT PORT PROTOCOL      ADDR answers PORT/udp
  middlebox ADDR                    ADDR SYN-ACKs every TCP port, says nothing
  cert PORT KIND                    the TLS backend on PORT serves a
                                    certificate of KIND (good, expired,
                                    self-signed, rsa1024)

IPv4 hosts are 198.19.0.1 to 198.19.0.HOSTS4, the middlebox 198.19.0.62
(all inside 198.19.0.0/26); IPv6 hosts 2001:2::1 to 2001:2::HOSTS6 (inside
2001:2::/122). Every other address of those blocks is silent.
"""

import random
import sys

# TLS backends (nginx server blocks), one per certificate kind.
TLS = {"good": 443, "expired": 10443, "self-signed": 10444, "rsa1024": 10445}
MIDDLEBOX = "198.19.0.62"

# Profiles: (port seen from outside, backend port or "tls", protocol).
PROFILES = {
    "web": [(22, 22, "ssh"), (80, 80, "http"), (443, "tls", "tls")],
    "shop": [(80, 80, "http"), (443, "tls", "tls"), (8443, "tls", "tls"), (6379, 6379, "redis")],
    "legacy": [(21, 21, "ftp"), (22, 22, "ssh"), (23, 23, "telnet"), (80, 80, "http")],
    "cache": [(22, 22, "ssh"), (6379, 6379, "redis"), (11211, 11211, "memcached")],
    "iot": [(2323, 23, "telnet"), (1883, 1883, "mqtt"), (8080, 80, "http")],
    # Services where nobody expects them (nftables redirects).
    "odd": [(443, 22, "ssh"), (8080, 23, "telnet"), (9200, 6379, "redis"), (5900, 80, "http")],
    "ns": [(22, 22, "ssh")],
}
# IPv6 hosts: daemons that listen on [::] too.
PROFILES6 = ["web", "legacy", "odd", "ns"]
UDP_OF = {"ns": [(53, "dns"), (161, "snmp")], "cache": [(11211, "memcached")]}


def main():
    try:
        seed, n4, n6 = (int(a) for a in sys.argv[1:4])
    except ValueError:
        n4 = -1
    if len(sys.argv) != 4 or not 1 <= n4 <= 60 or not 0 <= n6 <= 60:
        print("usage: demo_plan.py SEED HOSTS4 HOSTS6 (HOSTS4 1-60, HOSTS6 0-60)", file=sys.stderr)
        sys.exit(2)
    rnd = random.Random(seed)
    kinds = list(TLS)
    rnd.shuffle(kinds)
    tls_next = [0]

    def tls_backend():
        # Every kind once before any twice: even a small lab shows them all.
        k = kinds[tls_next[0] % len(kinds)]
        tls_next[0] += 1
        return TLS[k]

    out = []

    def host(addr, names, v6):
        udp = set()
        for name in names:
            for port, backend, proto in PROFILES[name]:
                if v6 and proto == "memcached":
                    continue
                if backend == "tls":
                    backend = tls_backend()
                out.append(("tcp", addr, port, backend, proto))
            udp.update(UDP_OF.get(name, []))
        # A quarter of the other hosts resolve names too.
        if rnd.random() < 0.25:
            udp.add((53, "dns"))
        for port, proto in sorted(udp):
            if v6 and proto == "memcached":
                continue
            out.append(("udp", addr, port, port, proto))

    order = list(PROFILES)
    rnd.shuffle(order)
    for i in range(n4):
        names = [order[i % len(order)]]
        # Some hosts run two roles.
        if i >= len(order) and rnd.random() < 0.3:
            extra = rnd.choice(order)
            if extra not in names:
                names.append(extra)
        ports = set()
        merged = []
        for n in names:
            if all(p not in ports for p, _, _ in PROFILES[n]):
                merged.append(n)
                ports.update(p for p, _, _ in PROFILES[n])
        host(f"198.19.0.{i + 1}", merged, False)
    order6 = list(PROFILES6)
    rnd.shuffle(order6)
    for i in range(n6):
        host(f"2001:2::{i + 1:x}", [order6[i % len(order6)]], True)
    for kind, port in TLS.items():
        print(f"cert\t{port}\t{kind}")
    print(f"middlebox\t{MIDDLEBOX}")
    for line in out:
        print("\t".join(str(x) for x in line))


if __name__ == "__main__":
    main()
