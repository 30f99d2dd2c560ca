#!/usr/bin/env python3
"""TCP peers that do not cooperate, for synsweep's identification labs.

    hostile_peers.py [--owner PID] [--ready FILE] MODE=PORT ...

Listens on [::]:PORT (IPv4 and IPv6, one dual-stack socket) in the current
network namespace for each MODE=PORT and behaves as MODE says:

  neveraccept  listens (deep backlog) and never calls accept(): the kernel
               completes every handshake, nothing is ever sent or read
  close        accepts and closes at once
  noread       accepts, never reads, never sends (held 120 s, then closed)
  sink         accepts, reads and discards everything, never sends (held
               120 s): a middlebox that completes handshakes and stays silent
  tarpit       accepts and sends a short random line at once and then every
               2 s, forever (endlessh's way), never reads
  megabytes    accepts and sends 8 MiB of binary junk of no protocol, then
               closes

One process, one thread (selectors), bounded: at most 4096 held
connections (the oldest is closed past that). With --owner it exits as soon
as process PID is gone; with --ready it writes its pid to FILE once every
socket listens.
"""

import argparse
import collections
import os
import random
import selectors
import socket
import sys
import time

MODES = ("neveraccept", "close", "noread", "sink", "tarpit", "megabytes")
HOLD_SECS = 120.0
TARPIT_EVERY = 2.0
MEGABYTES = 8 << 20
MAX_HELD = 4096
# 64 KiB of junk that starts like no protocol (first byte 0x07) and has no
# line structure; sent 128 times.
JUNK = bytes((i * 131 + 7) % 256 for i in range(65536))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def listener(port, backlog):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(backlog)
    s.setblocking(False)
    return s


class Conn:
    __slots__ = ("sock", "mode", "since", "next_line", "left")

    def __init__(self, sock, mode, now):
        self.sock = sock
        self.mode = mode
        self.since = now
        self.next_line = now
        self.left = MEGABYTES if mode == "megabytes" else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--owner", type=int)
    ap.add_argument("--ready")
    ap.add_argument("specs", nargs="+", metavar="MODE=PORT")
    args = ap.parse_args()
    sel = selectors.DefaultSelector()
    keep = []
    for spec in args.specs:
        mode, _, port = spec.partition("=")
        if mode not in MODES or not port.isdigit():
            print(f"hostile_peers.py: bad spec {spec!r} (MODE=PORT, MODE one of {', '.join(MODES)})",
                  file=sys.stderr)
            sys.exit(2)
        s = listener(int(port), 65535)
        keep.append(s)
        if mode != "neveraccept":
            sel.register(s, selectors.EVENT_READ, ("listen", mode))
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(args.ready + ".tmp", args.ready)
    held = collections.OrderedDict()  # fd -> Conn
    rng = random.Random(7)

    def drop(c):
        held.pop(c.sock.fileno(), None)
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    last_owner_check = 0.0
    while True:
        now = time.monotonic()
        timeout = 1.0
        for c in held.values():
            if c.mode == "tarpit":
                timeout = min(timeout, max(0.0, c.next_line - now))
        events = sel.select(timeout=timeout)
        now = time.monotonic()
        if args.owner and now - last_owner_check >= 1.0:
            last_owner_check = now
            if not alive(args.owner):
                sys.exit(0)
        for key, mask in events:
            kind, data = key.data
            if kind == "listen":
                try:
                    sock, _ = key.fileobj.accept()
                except OSError:
                    continue
                if data == "close":
                    sock.close()
                    continue
                sock.setblocking(False)
                c = Conn(sock, data, now)
                held[sock.fileno()] = c
                if data == "sink":
                    sel.register(sock, selectors.EVENT_READ, ("conn", c))
                elif data == "megabytes":
                    sel.register(sock, selectors.EVENT_WRITE, ("conn", c))
                while len(held) > MAX_HELD:
                    drop(next(iter(held.values())))
                continue
            c = data
            try:
                if c.mode == "sink":
                    if not c.sock.recv(65536):
                        drop(c)
                elif c.mode == "megabytes":
                    off = (MEGABYTES - c.left) % len(JUNK)
                    n = c.sock.send(JUNK[off:] if off else JUNK)
                    c.left -= n
                    if c.left <= 0:
                        drop(c)
            except OSError:
                drop(c)
        for c in list(held.values()):
            if c.mode == "tarpit" and now >= c.next_line:
                c.next_line = now + TARPIT_EVERY
                line = "%x\r\n" % rng.getrandbits(32)
                try:
                    c.sock.send(line.encode())
                except BlockingIOError:
                    pass
                except OSError:
                    drop(c)
            elif c.mode in ("noread", "sink", "tarpit") and now - c.since > HOLD_SECS:
                drop(c)


if __name__ == "__main__":
    main()
