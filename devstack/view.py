"""``openhelm view bundle.zip``: open a run's trace bundle offline, in the same page the API serves.

The zip is read in place (nothing is extracted): its manifest is checked first (every file's size and
SHA-256; the signature too when this machine has the deployment's viewer or run-token secret), then
a small HTTP server on 127.0.0.1 serves the page at ``/`` and the bundle's listed files by their
paths, which is where the page's screenshots point.
"""

from __future__ import annotations

import http.server
import mimetypes
import threading
import zipfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.config import Settings
from shared.viewer import bundle
from shared.viewer.page import offline_page, security_headers


def signing_key(settings: Settings) -> bytes | None:
    """The bundle-signing key of the deployment whose secrets are in the environment, else None."""
    try:
        return bundle.signing_key(settings.viewer_key())
    except RuntimeError:
        return None


def _footer(path: Path, check: bundle.BundleCheck) -> str:
    signature = {
        "valid": "its signature is valid for this deployment's secret",
        "invalid": "its signature does NOT match this deployment's secret",
        "unchecked": "its signature was not checked (no OPENHELM_VIEWER_SECRET or OPENHELM_RUN_TOKEN_SECRET here)",
    }[check.signature]
    state = (
        f"{check.verified} files match the manifest's SHA-256 digests"
        if check.intact
        else "<b class='err'>the bundle does not match its manifest: " + escape("; ".join(check.problems[:5])) + "</b>"
    )
    return f"Opened offline from {escape(str(path))}: {state}; {signature}."


class BundleServer:
    """Serves one bundle on 127.0.0.1 until :meth:`close`."""

    def __init__(self, path: Path, port: int = 0, key: bytes | None = None) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path)  # BadZipFile: not a zip
        self.check = bundle.open_bundle(self.zip, key)  # BundleError: not a bundle
        self.files = bundle.listed_files(self.check)
        self.page = offline_page(self.check.run, _footer(path, self.check)).encode()
        self._lock = threading.Lock()  # ZipFile reads share one file handle
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="openhelm-view", daemon=True)

    def start(self) -> BundleServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.zip.close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = unquote(urlsplit(self.path).path).lstrip("/")
                if name in ("", bundle.INDEX):
                    self._send(200, "text/html; charset=utf-8", server.page)
                elif name in server.files:  # only what the manifest lists, by exact name
                    with server._lock:
                        data = server.zip.read(name)
                    self._send(200, mimetypes.guess_type(name)[0] or "application/octet-stream", data)
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not in this bundle\n")

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in security_headers().items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
