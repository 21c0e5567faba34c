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
LOG as "PATH KEY" (and "COMMAND rc=N" when it ran).  It is a test's proxy,
not a gateway: one member, no retries.
"""
import base64
import http.client
import http.server
import json
import ssl
import subprocess
import sys
import threading
import urllib.parse


def main():
    port, upstream, ca, cert, key, range_key, log = sys.argv[1:8]
    command = sys.argv[8:]
    up = urllib.parse.urlsplit(upstream)
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
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
