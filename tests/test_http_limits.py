"""Whole-reply deadline and size cap of torchserve.exchange, the one HTTP request of the TorchServe backend and doctor:
a server that drips its reply, or streams far too much, is refused with a sentence instead of holding the call."""

from __future__ import annotations

import http.server
import json
import socket
import struct
import threading
import time

import numpy as np
import pytest
from torchserve_fixture import drip, reply, stream, stub_server

from studio.core.doctor import PROBLEM, check_torchserve
from studio.pipeline.pose.backend import BackendError
from studio.pipeline.pose.torchserve import MAX_REPLY_BYTES, ReplyLimitError, TorchServeBackend, exchange

pytestmark = pytest.mark.slow  # real sockets, and deadlines that must run out

Handler = http.server.BaseHTTPRequestHandler
PAGE = np.full((40, 30, 3), 255, np.uint8)
DRIP = 0.2  # s between bytes; each dripped reply below would take 8 s or more to arrive whole


def _drip_reply(h: Handler, whole: threading.Event) -> None:
    """A 42-byte JSON reply whose headers come at once and whose body drips; ``whole`` is set if it all went out."""
    body = b" " * 40 + b"[]"
    h.send_response(200)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if drip(h, body, DRIP):
        whole.set()


def test_a_body_dripped_byte_by_byte_ends_at_the_deadline() -> None:
    """Every byte comes well within a per-read timeout; the reply as a whole never comes within the deadline."""
    calls: list[str] = []
    whole = threading.Event()

    def respond(h: Handler) -> None:
        calls.append(h.path)
        _drip_reply(h, whole)

    with stub_server(respond) as url:
        with pytest.raises(ReplyLimitError, match=r"^No complete reply from http://127\.0\.0\.1:\d+/predictions/"
                                                  r"drawn_humanoid_detector within 1 s: "):
            TorchServeBackend(url, deadline=1.0, retries=3).detect(PAGE)
        assert not whole.is_set()  # refused before the server had sent it all
    assert len(calls) == 1  # the server saw the request: not retried


def test_dripped_headers_end_at_the_deadline_too() -> None:
    whole = threading.Event()

    def respond(h: Handler) -> None:
        if drip(h, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]", DRIP):
            whole.set()

    with stub_server(respond) as url:
        with pytest.raises(ReplyLimitError, match=r"No complete reply from .*/ping within 1 s"):
            TorchServeBackend(url, deadline=1.0).ping()
        assert not whole.is_set()


def test_a_reply_announced_larger_than_the_cap_is_refused_unread() -> None:
    def respond(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(300 * 2**20))
        h.end_headers()
        stream(h, chunks=2 * MAX_REPLY_BYTES // 65536)

    with stub_server(respond) as url:
        with pytest.raises(ReplyLimitError, match=r"The reply from .*/predictions/pose is larger than 4 MB"):
            TorchServeBackend(url, pose_model="pose").pose(PAGE, (0, 0, 30, 40))


def test_an_endless_body_is_refused_at_the_cap() -> None:
    """No Content-Length: the body is read until the server closes, which this one does not do for 8 MB."""
    def respond(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        stream(h, chunks=2 * MAX_REPLY_BYTES // 65536)

    with stub_server(respond) as url:
        with pytest.raises(ReplyLimitError, match="is larger than 4 MB"):
            exchange(url + "/models")
        with pytest.raises(ReplyLimitError, match="is larger than 0.5 MB"):
            exchange(url + "/models", max_bytes=2**19)


def test_a_reply_within_both_limits_is_read_whole() -> None:
    body = json.dumps([{"bbox": [1, 2, 3, 4], "score": 0.5}] * 2000)  # 70 KB: several chunks

    def respond(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body.encode())

    with stub_server(respond) as url:
        assert exchange(url + "/x", deadline=5.0) == (200, body.encode())
        assert len(TorchServeBackend(url, deadline=5.0).detect(PAGE)) == 2000


def test_doctor_gives_up_on_a_dripping_ping_with_the_same_sentence() -> None:
    """doctor's own requests (/ping, the management API) go through the same exchange (5 s, or less if asked)."""
    def respond(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "30")
        h.end_headers()
        drip(h, json.dumps({"status": "Healthy"}).ljust(30).encode(), DRIP)  # 6 s in all

    with stub_server(respond) as url:
        (ping,) = check_torchserve(url, deadline=1.0)
    assert ping.status == PROBLEM and ping.detail.startswith(f"No complete reply from {url}/ping within 1 s")
    assert "does not answer" in ping.fix


def test_doctor_refuses_an_oversized_ping_reply() -> None:
    def respond(h: Handler) -> None:
        reply(h, 200, json.dumps({"status": "Healthy", "pad": " " * (MAX_REPLY_BYTES + 1)}))

    with stub_server(respond) as url:
        (ping,) = check_torchserve(url)
    assert ping.status == PROBLEM and "is larger than 4 MB" in ping.detail


def test_cli_annotate_takes_a_deadline_and_says_why_it_stopped(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from studio.cli.main import main

    whole = threading.Event()

    def respond(h: Handler) -> None:
        _drip_reply(h, whole)

    drawing = tmp_path / "d.png"
    Image.new("RGB", (60, 80), "white").save(drawing)
    with stub_server(respond) as url:
        code = main(["annotate", str(drawing), "-o", str(tmp_path / "char"), "--backend", "torchserve",
                     "--endpoint", url, "--deadline", "1"])
        assert not whole.is_set()
    assert code == 1 and not (tmp_path / "char").exists()
    assert "No complete reply" in capsys.readouterr().err


def test_retries_stay_within_the_one_deadline() -> None:
    """A server that resets each connection after a long wait was tried 4 times: 36 s for --deadline 10."""
    calls: list[float] = []

    def respond(h: Handler) -> None:
        calls.append(time.monotonic())
        time.sleep(0.6)
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not close
        h.connection.close()

    with stub_server(respond) as url:
        with pytest.raises(BackendError, match="Cannot reach TorchServe|No complete reply .* within 1 s"):
            TorchServeBackend(url, deadline=1.0, retries=3, backoff=0.1).ping()
    assert len(calls) <= 2  # 0.6 s each: a third try would start past the deadline (the old loop made 4)


def test_a_reply_nested_too_deeply_is_a_sentence() -> None:
    """A reply nested 200k deep raised RecursionError: 'maximum recursion depth exceeded…' reached the user."""
    def respond(h: Handler) -> None:
        reply(h, 200, "[" * 200_000 + "]" * 200_000)

    with stub_server(respond) as url:
        with pytest.raises(BackendError, match="nested too deeply"):
            TorchServeBackend(url).detect(PAGE)


def test_doctor_words_a_ping_nested_too_deeply() -> None:
    def respond(h: Handler) -> None:
        reply(h, 200, "[" * 200_000 + "]" * 200_000)

    with stub_server(respond) as url:
        (ping,) = check_torchserve(url, deadline=2.0)
    assert "nested too deeply" in ping.detail and "recursion" not in ping.detail
