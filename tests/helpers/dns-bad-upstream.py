#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stub DNS upstream that answers every query malformed, on purpose.

usage: dns-bad-upstream.py ADDR PORT LOG [HOLD | --keep]

Listens on ADDR:PORT (TCP) and answers the Nth query (from 0) with the
(N mod 8)th kind of bad answer: another id, a compression loop, a message
cut short, another question, the TC bit, a length prefix longer than what
follows, more records than any answer needs, a query instead of an answer.
With HOLD (a file's path), every answer is a well-formed one (one A or AAAA
record), held until the file HOLD exists (60 s at most): a question that
is upstream while a test changes the policy.  With --keep, a connection
is kept for as many queries as the client sends on it, and the Nth query
(from 0) is answered as the (N mod 10)th of KEEP_KINDS: well-formed, an
answer to another id or to another question followed by the well-formed
one, a well-formed one after which the connection is closed, or none (the
connection closed as soon as the query is read); each query is then logged
as "N KIND NAME conn=C", C counting connections from 1.  Otherwise each
query is logged as "N KIND NAME" to LOG when it arrives.  It is a stub (not
a DNS server): the real server of the tests is unbound.
"""
import os
import socket
import struct
import sys
import time

KINDS = ["wrong-id", "loop", "cut", "wrong-question", "tc", "short",
         "many", "query"]
KEEP_KINDS = ["good", "good", "wrong-id+good", "good", "wrong-question+good",
              "good", "close", "good", "drop", "good"]


def name(text):
    out = b""
    for label in text.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(msg):
    """The question's name (text), type and class, and where it ends."""
    at, labels = 12, []
    while msg[at] != 0:
        n = msg[at]
        labels.append(msg[at + 1:at + 1 + n].decode("ascii", "replace"))
        at += 1 + n
    qtype, qclass = struct.unpack(">HH", msg[at + 1:at + 5])
    return ".".join(labels), qtype, qclass, at + 5


def answer(kind, msg):
    qid = struct.unpack(">H", msg[:2])[0]
    qname, qtype, qclass, end = question(msg)
    rdata = bytes([192, 0, 2, 99]) if qtype == 1 else bytes(15) + b"\1"
    record = b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 60, len(rdata)) \
        + rdata
    flags, count, body = 0x8180, 1, msg[12:end] + record
    if kind == "wrong-id":
        qid ^= 0x5555
    elif kind == "loop":
        body = msg[12:end] + b"\xc0" + bytes([12 + len(msg[12:end])]) + \
            struct.pack(">HHIH", qtype, 1, 60, len(rdata)) + rdata
    elif kind == "cut":
        body = body[:-3]
    elif kind == "wrong-question":
        body = name("other." + qname) + struct.pack(">HH", qtype, qclass) \
            + record
    elif kind == "tc":
        flags |= 0x0200
    elif kind == "many":
        count, body = 300, msg[12:end] + record * 300
    elif kind == "query":
        flags = 0x0100
    header = struct.pack(">HHHHHH", qid, flags, 1, count, 0, 0)
    wire = header + body
    prefix = struct.pack(">H", len(wire) + (100 if kind == "short" else 0))
    return prefix + wire, qname


def read_query(conn):
    """One length-prefixed query, or None at the connection's end."""
    prefix = conn.recv(2, socket.MSG_WAITALL)
    if len(prefix) < 2:
        return None
    size = struct.unpack(">H", prefix)[0]
    msg = conn.recv(size, socket.MSG_WAITALL)
    return msg if len(msg) == size else None


def serve_kept(server, log):
    """--keep: many queries per connection, one connection at a time."""
    n, conns = 0, 0
    while True:
        conn, _ = server.accept()
        conn.settimeout(60)
        conns += 1
        try:
            while True:
                msg = read_query(conn)
                if msg is None:
                    break
                kind = KEEP_KINDS[n % len(KEEP_KINDS)]
                good, qname = answer("good", msg)
                with open(log, "a") as f:
                    f.write("%d %s %s conn=%d\n" % (n, kind, qname, conns))
                n += 1
                if kind == "drop":
                    break
                if kind.endswith("+good"):
                    conn.sendall(answer(kind.split("+")[0], msg)[0])
                conn.sendall(good)
                if kind == "close":
                    break
        except (OSError, struct.error, IndexError):
            pass
        conn.close()


def main():
    addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    hold = sys.argv[4] if len(sys.argv) > 4 else None
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((addr, port))
    server.listen(16)
    if hold == "--keep":
        serve_kept(server, log)
    n = 0
    while True:
        conn, _ = server.accept()
        conn.settimeout(10)
        try:
            size = struct.unpack(">H", conn.recv(2, socket.MSG_WAITALL))[0]
            msg = conn.recv(size, socket.MSG_WAITALL)
            kind = "held" if hold else KINDS[n % len(KINDS)]
            reply, qname = answer(kind, msg)
            with open(log, "a") as f:
                f.write("%d %s %s\n" % (n, kind, qname))
            n += 1
            for _ in range(1200):
                if not hold or os.path.exists(hold):
                    break
                time.sleep(0.05)
            conn.sendall(reply)
        except (OSError, struct.error, IndexError):
            pass
        conn.close()


if __name__ == "__main__":
    main()
