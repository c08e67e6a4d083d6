"""The TorchServe pose backend: AD's detector and pose models over HTTP, with retries and errors a user can act on;
and ``exchange``, the one HTTP request with a whole-reply deadline and a size cap that doctor uses too."""

from __future__ import annotations

import http.client
import io
import json
import math
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from studio.pipeline.pose.backend import BackendError, Box, Detection, PoseResult, check_box

# One request's reply must be complete within this many seconds, however the bytes trickle in (a per-read timeout
# let a server sending a byte every 2 s hold annotate for minutes). AD's detector takes seconds on a CPU server.
DEADLINE_S = 60.0
# AD's models reply with a few KB (a box or 17 keypoints per figure); TorchServe's error replies are smaller.
# 4 MB leaves room for hundreds of figures, and a server streaming garbage cannot fill the memory.
MAX_REPLY_BYTES = 4 * 1024 * 1024
_CHUNK = 64 * 1024

MMCV_HINT = ("If /ping says Healthy but every prediction fails, the server's mmcv was most likely built without "
             "CUDA ops (its log says \"MMCV CUDA Compiler: not available\"): rebuild mmcv with FORCE_CUDA=1 and a "
             "TORCH_CUDA_ARCH_LIST that includes the GPU, e.g. TORCH_CUDA_ARCH_LIST=8.0 for an A100.")
# Failures that happen before the server has seen the request (or that drop it unanswered): safe to retry.
RETRYABLE = (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
             http.client.RemoteDisconnected, socket.gaierror)


class ConnectTimeout(TimeoutError):
    """The TCP connection was not established within connect_timeout (safe to retry: nothing was sent)."""


class ReplyLimitError(BackendError):
    """A server's reply broke a limit: it was not complete within the deadline, or it was larger than the cap."""


def exchange(url: str, method: str = "GET", body: bytes | None = None, headers: Mapping[str, str] | None = None, *,
             connect_timeout: float = 3.0, deadline: float = DEADLINE_S,
             max_bytes: int = MAX_REPLY_BYTES, allowed: float | None = None) -> tuple[int, bytes]:
    """(status, body) of one HTTP(S) request to ``url`` on a fresh connection.

    Connecting may take ``connect_timeout`` s (ConnectTimeout after that); sending the request and receiving the
    whole reply, headers and body, at most ``deadline`` s more, and the body at most ``max_bytes``: past either
    limit, ReplyLimitError with a sentence naming the URL and ``allowed`` (the whole time the caller allowed, when
    ``deadline`` is what is left of it). Other failures raise OSError or HTTPException."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=min(connect_timeout, deadline))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.connect()
    except (TimeoutError, socket.timeout) as exc:
        conn.close()
        raise ConnectTimeout(f"timed out connecting to {parts.netloc}") from exc
    except BaseException:
        conn.close()
        raise
    sock = conn.sock
    assert sock is not None
    conn.sock = _DeadlineSocket(sock, time.monotonic() + deadline)  # type: ignore[assignment]
    try:
        conn.request(method, target, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, _read_capped(response, url, max_bytes)
    except (TimeoutError, socket.timeout):
        raise ReplyLimitError(f"No complete reply from {url} within {allowed or deadline:g} s: the server is "
                              "overloaded or stalled, or its model is still loading; try again, or allow it more "
                              "time.") from None
    finally:
        conn.close()
        sock.close()


def _read_capped(response: http.client.HTTPResponse, url: str, max_bytes: int) -> bytes:
    """The reply's body, read in chunks; ReplyLimitError as soon as it is announced or found to be over max_bytes."""
    too_big = ReplyLimitError(f"The reply from {url} is larger than {max_bytes / 2**20:g} MB: AD's models answer "
                              "with a few KB, so this is not the TorchServe expected there; check the URL and which "
                              "model is registered under that name.")
    if response.length is not None and response.length > max_bytes:
        raise too_big
    chunks, size = [], 0
    while chunk := response.read(_CHUNK):  # ends: every pass reads at least one byte, and the size is capped
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


class _DeadlineSocket:
    """A connected socket seen through a deadline: each send or receive may take only the time left, so a reply
    that trickles in one byte at a time still ends at the deadline. http.client uses only these four methods.
    exchange closes the socket itself: http.client closes its end before reading the body of a reply that ends
    the connection (a real socket stays open until its file is closed too)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._left())
        self._sock.sendall(data)

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        self._sock.settimeout(self._left())
        return self._sock.recv_into(buffer, nbytes)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_SocketReader(self))

    def close(self) -> None:
        pass


class _SocketReader(io.RawIOBase):
    """The raw reply stream of a _DeadlineSocket, for http.client's buffered reader."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)


class TorchServeBackend:
    """A PoseBackend that calls AD's two TorchServe models, e.g. ``TorchServeBackend("http://host:8080")``.

    Connection failures (refused, reset, DNS, connect timeout) are retried ``retries`` times with exponential
    backoff starting at ``backoff`` s; HTTP errors and replies past a limit are not retried. Each request's reply
    must be complete within ``deadline`` s and no larger than ``max_bytes`` (see exchange). ``token`` is the
    inference key of a server with token auth on (sent as ``Authorization: Bearer <token>``).
    """

    name = "torchserve"

    def __init__(self, base_url: str, detector_model: str = "drawn_humanoid_detector",
                 pose_model: str = "drawn_humanoid_pose_estimator", token: str | None = None,
                 connect_timeout: float = 3.0, deadline: float = DEADLINE_S, retries: int = 3,
                 backoff: float = 0.5, max_bytes: int = MAX_REPLY_BYTES) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._host = parts.hostname
        self.detector_model, self.pose_model, self.token = detector_model, pose_model, token
        self.connect_timeout, self.deadline, self.max_bytes = connect_timeout, deadline, max_bytes
        self.retries, self.backoff = max(0, retries), backoff

    # --- the PoseBackend protocol -------------------------------------------------------------------------

    def ping(self) -> str:
        """The server's health status (``"Healthy"``). Raises BackendError when it is unreachable or not healthy."""
        status, body = self._request("GET", "/ping", None, {}, "/ping")
        self._check_status(status, body, "/ping")
        reply = self._json(body, "/ping")
        health = reply.get("status") if isinstance(reply, dict) else None
        if health != "Healthy":
            raise BackendError(f"TorchServe at {self.base_url} answers /ping with {_snippet(body)}, not Healthy: "
                               "its models are still loading or its workers died; check logs/ts_log.log.")
        return str(health)

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Figures in an (H, W, 3) uint8 RGB image from the detector model, best first; [] when it finds none."""
        reply = self._predict(self.detector_model, image_rgb)
        if not isinstance(reply, list):
            raise self._shape_error(self.detector_model, "a list of boxes", reply)
        found: list[Detection] = []
        for item in reply:
            bbox: Any = item.get("bbox") if isinstance(item, dict) else None
            score: Any = item.get("score") if isinstance(item, dict) else None
            if not (_numbers(bbox) and len(bbox) >= 4 and _numbers([score])):
                raise self._shape_error(self.detector_model, '[{"bbox": [x1, y1, x2, y2], "score": s}, ...]', reply)
            x1, y1, x2, y2 = (float(v) for v in bbox[:4])
            found.append(Detection((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)), float(score)))
        return sorted(found, key=lambda d: -d.score)

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        """17 COCO keypoints (17, 3) [x, y, score] in image px for the figure in ``box``.

        The crop is sent, as AD does (its pose handler treats the whole image as the person box), and the crop's
        offset is added back. With several skeletons the one with the highest mean score wins, noted in ``notes``.
        """
        img = _rgb(image_rgb)
        box = check_box(box)
        h, w = img.shape[:2]
        x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
        x1, y1 = min(w, math.ceil(box[2])), min(h, math.ceil(box[3]))
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise BackendError(f"The box {tuple(round(float(v), 1) for v in box)} does not cover a part of the "
                               f"{w}×{h} image: draw a box around the figure first.")
        reply = self._predict(self.pose_model, img[y0:y1, x0:x1])
        if isinstance(reply, dict):
            reply = [reply]
        if not isinstance(reply, list):
            raise self._shape_error(self.pose_model, "a list of skeletons", reply)
        skeletons = []
        for item in reply:
            kps = item.get("keypoints") if isinstance(item, dict) else None
            arr = np.asarray(kps, dtype=float) if _nested_numbers(kps) else None
            if arr is None or arr.ndim != 2 or arr.shape[0] != 17 or arr.shape[1] < 3 or not np.isfinite(arr).all():
                raise self._shape_error(self.pose_model, '[{"keypoints": [[x, y, score] × 17]}, ...]', reply)
            skeletons.append(arr[:, :3].copy())
        if not skeletons:
            raise BackendError(f"No figure found by the pose model {self.pose_model!r} inside the box: make the box "
                               "fit the figure snugly, or place the joints by hand.")
        notes: tuple[str, ...] = ()
        best = max(range(len(skeletons)), key=lambda i: float(skeletons[i][:, 2].mean()))
        if len(skeletons) > 1:
            notes = (f"{len(skeletons)} skeletons returned: using the most confident "
                     f"(mean score {skeletons[best][:, 2].mean():.2f}); check the joints.",)
        kp = skeletons[best]
        kp[:, 0] += x0
        kp[:, 1] += y0
        return PoseResult(keypoints=kp, notes=notes)

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _predict(self, model: str, image_rgb: np.ndarray) -> Any:
        """POST the image as PNG in multipart field ``data`` (as AD's client does); the decoded JSON reply."""
        ok, png = cv2.imencode(".png", cv2.cvtColor(_rgb(image_rgb), cv2.COLOR_RGB2BGR))
        if not ok:
            raise BackendError("Could not encode the image as PNG for TorchServe.")
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="image.png"\r\n'
                f"Content-Type: image/png\r\n\r\n").encode() + png.tobytes() + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        what = f"model {model!r}"
        status, reply = self._request("POST", f"/predictions/{model}", body, headers, what)
        self._check_status(status, reply, what, model)
        return self._json(reply, what)

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str],
                 what: str) -> tuple[int, bytes]:
        """(status, body) of one HTTP exchange, retrying connection failures with exponential backoff, all within
        the one deadline: a server that resets each connection after a long wait is not waited for again."""
        headers = {"Accept": "application/json", **headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        last: BaseException | None = None
        ends = time.monotonic() + self.deadline
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                pause = self.backoff * 2 ** (attempt - 1)
                if time.monotonic() + pause >= ends:
                    break  # no time left for another try
                time.sleep(pause)
            attempts += 1
            try:
                return exchange(self.base_url + path, method, body, headers, connect_timeout=self.connect_timeout,
                                deadline=ends - time.monotonic(), max_bytes=self.max_bytes, allowed=self.deadline)
            except (*RETRYABLE, ConnectTimeout) as exc:
                last = exc
            except (OSError, http.client.HTTPException) as exc:
                raise BackendError(f"TorchServe at {self.base_url}: the exchange for {what} failed ({exc}); "
                                   "check the URL and the network.") from exc
        reason = "timed out connecting" if isinstance(last, ConnectTimeout) else type(last).__name__
        if isinstance(last, socket.gaierror):
            reason = f"unknown host {self._host!r}"
        raise BackendError(f"Cannot reach TorchServe at {self.base_url} ({reason}, {attempts} attempts in "
                           f"{self.deadline:g} s): "
                           "check the URL and that the server is running (torchserve --start), "
                           "then try again.") from last

    def _check_status(self, status: int, body: bytes, what: str, model: str | None = None) -> None:
        """Raise a BackendError that says what to do for a non-2xx status."""
        if 200 <= status < 300:
            return
        server = f"TorchServe at {self.base_url}"
        detail = _message(body)
        if status in (400, 401, 403) and (status != 400 or _mentions_auth(body) or what == "/ping"):
            given = ("the server rejected the key given: use the current inference key from its key_file.json"
                     if self.token else "pass the inference key from the server's key_file.json as the token")
            raise BackendError(f"{server} refused {what} ({status}: {detail}): token authorization is on; {given}, "
                               "or start the server with --disable-token-auth.")
        if status == 404 and model is not None:
            raise BackendError(f"{server}: model {model!r} is not registered on the server (404: {detail}). List "
                               "the registered models (GET /models on the management port) and the .mar files in "
                               f"its model store; register it, e.g. torchserve --models {model}={model}.mar, or "
                               "set the right model name.")
        if status in (500, 503):
            busy = "no worker" in detail.lower()
            hint = ("The model has no live worker: check the server's logs/model_log.log." if busy else MMCV_HINT)
            raise BackendError(f"{server}: {what} failed with {status}: {detail}. {hint}")
        if status == 507:
            raise BackendError(f"{server}: {what} ran out of memory (507: {detail}); use a smaller image or fewer workers.")
        raise BackendError(f"{server}: {what} failed with HTTP {status}: {detail}.")

    def _json(self, body: bytes, what: str) -> Any:
        """The decoded JSON body; a BackendError naming the model when it is not JSON."""
        try:
            return json.loads(body.decode("utf-8"))
        except RecursionError:
            raise BackendError(f"TorchServe at {self.base_url}: the reply for {what} is nested too deeply to be AD's "
                               "JSON: check which .mar is registered under that name.") from None
        except (UnicodeDecodeError, ValueError):
            raise BackendError(f"TorchServe at {self.base_url}: the reply for {what} is not valid JSON "
                               f"({_snippet(body)}): the model's handler is not AD's; check which .mar is "
                               "registered under that name.") from None

    def _shape_error(self, model: str, expected: str, reply: Any) -> BackendError:
        return BackendError(f"TorchServe at {self.base_url}: model {model!r} replied {_snippet(json.dumps(reply))}, "
                            f"not {expected}: check that the name points to AD's model.")


def _rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {img.shape} {img.dtype}")
    return np.ascontiguousarray(img)


def _numbers(values: Any) -> bool:
    return isinstance(values, list) and all(_finite(v) for v in values)


def _finite(value: Any) -> bool:
    """A JSON number a float can hold (an integer of 400 digits cannot)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _nested_numbers(rows: Any) -> bool:
    return isinstance(rows, list) and all(_numbers(r) for r in rows)


def _mentions_auth(body: bytes) -> bool:
    text = body.decode("utf-8", "replace").lower()
    return "token" in text or "authoriz" in text


def _message(body: bytes) -> str:
    """TorchServe's error message (``{"code", "type", "message"}``), or the start of the body."""
    try:
        reply = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _snippet(body)
    if isinstance(reply, dict) and "message" in reply:
        kind = f"{reply['type']}: " if reply.get("type") else ""
        return _shorten(f"{kind}{reply['message']}")
    return _snippet(body)


def _snippet(body: bytes | str, limit: int = 300) -> str:
    """The start of a reply, quoted, on one line."""
    return repr(_shorten(body.decode("utf-8", "replace") if isinstance(body, bytes) else body, limit))


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
