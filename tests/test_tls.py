"""metrika's connections over TLS, end to end: connections.py makes them on asyncio itself (LoopBackend),
so the handshake, the certificate check and the reads of a long body are tested against a real
loopback HTTPS server, its certificate from a test CA (trustme) trusted through SSL_CERT_FILE."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from conftest import TOKEN

PART = "/management/v1/counter/101/logrequest/7/part/0/download"
PART_SIZE = 5 * 1024 * 1024 + 7
LINE = b"1234567890123456789\t2026-11-30\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive: the second request of a run reuses the connection

    def do_GET(self) -> None:
        if self.path.startswith(PART):
            body = (LINE * (PART_SIZE // len(LINE) + 1))[:PART_SIZE]
            kind = "text/tab-separated-values"
        else:
            body, kind = json.dumps({"rows": 1, "counters": [{"id": 101}]}).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 1 << 20):
            self.wfile.write(body[start : start + (1 << 20)])

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(the server's https:// URL, the PEM file of the CA that signed its certificate)."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    authority_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(authority_file))
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", authority_file
    finally:
        server.shutdown()
        server.server_close()


def test_a_part_over_tls_arrives_whole(metrika, https, tmp_path):
    url, authority = https
    target = tmp_path / "part0.tsv"
    environ = {"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": url, "SSL_CERT_FILE": str(authority)}
    result = metrika("api", PART, "--output", str(target), env=environ)
    assert result.code == 0, result.stderr
    assert target.stat().st_size == PART_SIZE and target.read_bytes()[:32] == LINE + LINE[:1]
    listed = metrika("api", "/management/v1/counters", env=environ)
    assert listed.code == 0 and json.loads(listed.stdout)["counters"] == [{"id": 101}]


def test_a_certificate_no_trusted_authority_signed_is_a_tls_failure(metrika, https, tmp_path):
    url, _authority = https
    target = tmp_path / "part0.tsv"
    result = metrika("api", PART, "--output", str(target), env={"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": url})
    assert result.code == 6 and "TLS handshake" in result.stderr, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ca.pem"]  # no part, no temporary file
