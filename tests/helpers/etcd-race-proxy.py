#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A man in the middle of etcd's HTTP/JSON gateway that writes between reads.

usage: etcd-race-proxy.py PORT UPSTREAM CA CERT KEY RANGE_KEY LOG COMMAND...

Listens on 127.0.0.1:PORT (plain HTTP) and passes every request on to
UPSTREAM (https://HOST:PORT of one etcd member, with the client
certificate CERT and KEY, checking the member's by CA), answers and watch
streams included, line by line as they come.  The first time a range
request for RANGE_KEY (the key as text) passes, COMMAND runs to its end
before the request goes on: a write made between two reads of a client,
as a slow link or a busy member can place it.  Each request is logged to
LOG as "PATH KEY" (and "COMMAND rc=N" when it ran).  RANGE_KEY "-" runs
nothing.  With ZT_PROXY_BUMP=N in its environment, every event a watch
stream carries has N added to its mod_revision and to its message's
header revision: a member that lies about revisions (or a cluster
restored from an older snapshot, seen from a client that watched the
newer one).  It is a test's proxy, not a gateway: one member, no
retries.
"""
import base64
import http.client
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.parse


def bumped(line, bump):
    """LINE (a watch message) with BUMP added to its events' revisions."""
    try:
        message = json.loads(line)
        result = message["result"]
        events = result["events"]
    except (ValueError, KeyError, TypeError):
        return line
    for event in events:
        kv = event.get("kv", {})
        kv["mod_revision"] = str(int(kv.get("mod_revision", "0")) + bump)
    header = result.get("header", {})
    header["revision"] = str(int(header.get("revision", "0")) + bump)
    return (json.dumps(message) + "\n").encode()


def main():
    port, upstream, ca, cert, key, range_key, log = sys.argv[1:8]
    command = sys.argv[8:]
    up = urllib.parse.urlsplit(upstream)
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    bump = int(os.environ.get("ZT_PROXY_BUMP", "0"))
    lock = threading.Lock()
    state = {"ran": False}

    def say(text):
        with lock, open(log, "a") as f:
            f.write(text + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length",
                                                         "0")))
            try:
                asked = base64.b64decode(json.loads(body).get("key", "")
                                         ).decode("utf-8", "replace")
            except ValueError:
                asked = "?"
            say("%s %s" % (self.path, asked))
            if self.path == "/v3/kv/range" and asked == range_key:
                with lock:
                    run = not state["ran"]
                    state["ran"] = True
                if run:
                    rc = subprocess.call(command)
                    say("COMMAND rc=%d" % rc)
            conn = http.client.HTTPSConnection(up.hostname, up.port,
                                               context=context)
            headers = {"Content-Type": "application/json"}
            if self.headers.get("Authorization"):
                headers["Authorization"] = self.headers["Authorization"]
            conn.request("POST", self.path, body, headers)
            resp = conn.getresponse()
            # HTTP/1.0 to the client: the body ends when the connection
            # does, as a watch stream needs.
            self.send_response(resp.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                while True:
                    line = resp.readline()
                    if not line:
                        break
                    if bump and self.path == "/v3/watch":
                        line = bumped(line, bump)
                    self.wfile.write(line)
                    self.wfile.flush()
            except OSError:
                pass
            conn.close()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)),
                                             Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
