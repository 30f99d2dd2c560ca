#!/usr/bin/env python3
"""Relay IP packets between two tun interfaces (the synsweep VPN lab).

    tunrelay.py --ready FILE [--owner PID] TUN_A TUN_B

Creates TUN_A and TUN_B (layer 3: IFF_TUN | IFF_NO_PI, no Ethernet header,
like WireGuard or OpenVPN) in the network namespace it runs in, writes its
pid to FILE once both exist, then copies every packet read from one to the
other, forever. The lab moves TUN_B into the target namespace afterwards
(`ip link set TUN_B netns T`): the file descriptor keeps working. Both
interfaces vanish when this process ends. With --owner, it exits as soon as
process PID is gone (a test killed before it could tear its lab down).
"""

import argparse
import fcntl
import os
import selectors
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ready", required=True)
    ap.add_argument("--owner", type=int)
    ap.add_argument("tun_a")
    ap.add_argument("tun_b")
    args = ap.parse_args()
    a, b = open_tun(args.tun_a), open_tun(args.tun_b)
    peer = {a: b, b: a}
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ)
    sel.register(b, selectors.EVENT_READ)
    with open(args.ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(args.ready + ".tmp", args.ready)
    while True:
        events = sel.select(timeout=1.0)
        if args.owner and not alive(args.owner):
            sys.exit(0)
        for key, _ in events:
            src = key.fd
            # Drain what is queued: one wakeup, many packets.
            for _ in range(256):
                try:
                    pkt = os.read(src, 65535)
                except BlockingIOError:
                    break
                except OSError:
                    break
                try:
                    os.write(peer[src], pkt)
                except OSError:
                    pass  # the other side is down or its queue is full: a lost packet


if __name__ == "__main__":
    main()
