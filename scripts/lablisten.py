#!/usr/bin/env python3
"""Listening TCP sockets for the synsweep lab, in any number of namespaces.

    lablisten.py --ready FILE [--owner PID] [--backlog N] NS=PORT,PORT... ...

For each NS (a name under /run/netns), binds 0.0.0.0:PORT (and [::]:PORT where IPv6 is on) for every PORT
inside that network namespace (the process enters each namespace in turn
with setns(2); a socket stays in the namespace it was made in), writes its pid
to FILE once every socket listens, then accepts and closes whatever completes,
forever. With --owner, it exits as soon as process PID is gone (a test killed
before it could tear its lab down).
"""

import argparse
import ctypes
import os
import selectors
import socket
import sys

CLONE_NEWNET = 0x40000000


def enter(ns):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + ns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (ns, os.strerror(err)))
    finally:
        os.close(fd)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def ipv6_enabled():
    """Whether the namespace entered last has IPv6 on (lab.sh --ipv6)."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ready", required=True)
    ap.add_argument("--owner", type=int)
    ap.add_argument("--backlog", type=int, default=65535)
    ap.add_argument("specs", nargs="+", metavar="NS=PORTS")
    args = ap.parse_args()
    sel = selectors.DefaultSelector()
    for spec in args.specs:
        ns, _, ports = spec.partition("=")
        enter(ns)
        for p in filter(None, ports.split(",")):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", int(p)))
            s.listen(args.backlog)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            if ipv6_enabled():
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind(("::", int(p)))
                s.listen(args.backlog)
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
    with open(args.ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(args.ready + ".tmp", args.ready)
    while True:
        events = sel.select(timeout=1.0)
        if args.owner and not alive(args.owner):
            sys.exit(0)
        for key, _ in events:
            try:
                c, _ = key.fileobj.accept()
                c.close()
            except OSError:
                pass


if __name__ == "__main__":
    main()
