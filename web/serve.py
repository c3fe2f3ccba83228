#!/usr/bin/env python3
"""Serves web/dist on 127.0.0.1 with the MIME types a wasm page needs.

    python3 web/serve.py            http://127.0.0.1:8000/
    python3 web/serve.py --port 0   a free port; the first line printed says which

Prints `serving http://127.0.0.1:PORT/` once listening. Ctrl-C stops it.
"""

import argparse
import functools
import http.server
import os
import sys

TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            super().log_message(fmt, *args)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    p.add_argument("--dir", default=os.path.join(here, "dist"), help="folder to serve (default: web/dist)")
    p.add_argument("--quiet", action="store_true", help="no request log")
    a = p.parse_args()
    if not os.path.isfile(os.path.join(a.dir, "index.html")):
        sys.exit(f"{a.dir} has no index.html: run web/build.sh first")
    handler = functools.partial(Handler, directory=a.dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    server.quiet = a.quiet
    print(f"serving http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
