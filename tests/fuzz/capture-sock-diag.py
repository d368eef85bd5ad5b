#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes NETLINK_SOCK_DIAG dump replies, as the agent asks for them, into seed files.

Usage: capture-sock-diag.py OUTDIR

Opens its own TCP, UDP and Unix sockets and keeps only the messages about them (by inode),
so a seed holds a few real messages and says nothing about the machine it was made on. Each
file is one reply buffer: those messages and the NLMSG_DONE that ends the dump.
"""
import os
import socket
import struct
import sys

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE = 3
INET_DIAG_INFO, INET_DIAG_SKMEMINFO = 2, 7


def request(family, protocol):
    """The request agent/collect/sock_diag.c sends: all states, tcp_info and memory counters."""
    if family == socket.AF_UNIX:
        body = struct.pack("=BBHIII8x", family, 0, 0, 0xFFFFFFFF, 0, 0)
    else:
        ext = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_SKMEMINFO - 1))
        body = struct.pack("=BBBxI48x", family, protocol, ext, 0xFFFFFFFF)
    return struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY,
                       NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body


def dump(family, protocol):
    """Every message of the dump, header included, until NLMSG_DONE."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    nl.send(request(family, protocol))
    msgs = []
    while True:
        buf = nl.recv(65536)
        off = 0
        while off + 16 <= len(buf):
            length, kind = struct.unpack_from("=IH", buf, off)
            if kind == NLMSG_DONE:
                nl.close()
                return msgs
            msgs.append(buf[off:off + length])
            off += (length + 3) & ~3


def inode_of(msg, family):
    # unix_diag_msg.udiag_ino at 4, inet_diag_msg.idiag_inode at 68, after the 16-byte header.
    return struct.unpack_from("=I", msg, 16 + (4 if family == socket.AF_UNIX else 68))[0]


def pad(msg):
    return msg + b"\0" * (-len(msg) % 4)


def own_sockets():
    """A few sockets in different states: listening, connected, accepted, unconnected UDP."""
    keep = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.bind((host, 0))
        srv.listen(4)
        cli = socket.create_connection(srv.getsockname()[:2])
        cli.sendall(b"x" * 100)
        acc, _ = srv.accept()
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        peer = socket.socket(family, socket.SOCK_DGRAM)
        peer.connect(udp.getsockname()[:2])
        peer.send(b"y")
        keep += [srv, cli, acc, udp, peer]
    keep += list(socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
    return keep


def main():
    out = sys.argv[1]
    keep = own_sockets()
    inodes = {os.fstat(s.fileno()).st_ino for s in keep}
    done = struct.pack("=IHHII", 20, NLMSG_DONE, 2, 1, 0) + struct.pack("=i", 0)
    for name, family, protocol in (("inet-tcp", socket.AF_INET, socket.IPPROTO_TCP),
                                   ("inet6-tcp", socket.AF_INET6, socket.IPPROTO_TCP),
                                   ("inet-udp", socket.AF_INET, socket.IPPROTO_UDP),
                                   ("inet6-udp", socket.AF_INET6, socket.IPPROTO_UDP),
                                   ("unix", socket.AF_UNIX, 0)):
        msgs = [m for m in dump(family, protocol) if inode_of(m, family) in inodes]
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"".join(pad(m) for m in msgs) + done)


if __name__ == "__main__":
    main()
