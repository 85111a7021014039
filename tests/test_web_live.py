"""Limits of the web page over real sockets against ``juesuan serve`` on 127.0.0.1: a body larger than
the limit is refused before it is read whole, whether it announces its length or streams chunks."""

from __future__ import annotations

import http.client
import select
import socket
import time
from pathlib import Path

import pytest

from .web_helpers import Server, make_round

CODE = "430100002"
LIMIT = 1024 * 1024


def unit_cookie(port: int, link: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", link)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 303
    return resp.getheader("set-cookie", "").split(";", 1)[0]


def answer(sock: socket.socket, wait: float) -> bytes:
    ready, _, _ = select.select([sock], [], [], wait)
    return sock.recv(65536) if ready else b""


@pytest.mark.slow
def test_oversized_bodies_are_refused_before_they_are_read_whole(tmp_path: Path) -> None:
    db, links = make_round(tmp_path)
    with Server(db, workers=1, max_upload_mb=1) as server:
        cookie = unit_cookie(server.port, links[CODE])
        head = (f"POST /unit/{CODE}/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                "Content-Type: multipart/form-data; boundary=XyZ\r\n")
        # 1. a body that announces 200 MB: answered 413 after the headers alone, not one byte of it sent
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall((head + f"Content-Length: {200 * 1024 * 1024}\r\n\r\n").encode())
            got = answer(s, 30)
            assert got.startswith(b"HTTP/1.1 413"), got[:200]
            assert "文件过大".encode() in got or b"413" in got
        # 2. a body streamed in chunks with no length: answered 413 once the limit is passed, while we
        #    are still sending; what we managed to send stays far below the 64 MB we were going to
        part = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.xlsx\"\r\n\r\n"
        block = b"PK" + b"\0" * (64 * 1024 - 2)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            sent, got = len(part), b""
            deadline = time.monotonic() + 60
            try:
                while sent < 64 * 1024 * 1024 and time.monotonic() < deadline:
                    got = answer(s, 0)
                    if got:
                        break
                    s.sendall(b"%x\r\n%s\r\n" % (len(block), block))
                    sent += len(block)
                got = got or answer(s, 30)
            except (BrokenPipeError, ConnectionResetError):  # the server closed on us: read what it said
                got = got or answer(s, 5)
            assert got.startswith(b"HTTP/1.1 413"), got[:200]
            assert sent < 16 * LIMIT, sent
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log
    with_db_path = db  # nothing was stored
    from generator.office.store import Store

    with Store(with_db_path) as store:
        assert store.submissions() == []
