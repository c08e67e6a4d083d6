"""The TorchServe pose backend: AD's detector and pose models over HTTP, with retries and errors a user can act on."""

from __future__ import annotations

import http.client
import json
import math
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from studio.pipeline.pose import BackendError, Box, Detection, PoseResult, check_box

MMCV_HINT = ("If /ping says Healthy but every prediction fails, the server's mmcv was most likely built without "
             "CUDA ops (its log says \"MMCV CUDA Compiler: not available\"): rebuild mmcv with FORCE_CUDA=1 and a "
             "TORCH_CUDA_ARCH_LIST that includes the GPU, e.g. TORCH_CUDA_ARCH_LIST=8.0 for an A100.")
# Failures that happen before the server has seen the request (or that drop it unanswered): safe to retry.
RETRYABLE = (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
             http.client.RemoteDisconnected, socket.gaierror)


class _ConnectTimeout(Exception):
    """The TCP connection was not established within connect_timeout."""


class TorchServeBackend:
    """A PoseBackend that calls AD's two TorchServe models, e.g. ``TorchServeBackend("http://host:8080")``.

    Connection failures (refused, reset, DNS, connect timeout) are retried ``retries`` times with exponential
    backoff starting at ``backoff`` s; HTTP errors and read timeouts are not retried. ``token`` is the inference
    key of a server with token auth on (sent as ``Authorization: Bearer <token>``).
    """

    name = "torchserve"

    def __init__(self, base_url: str, detector_model: str = "drawn_humanoid_detector",
                 pose_model: str = "drawn_humanoid_pose_estimator", token: str | None = None,
                 connect_timeout: float = 3.0, read_timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self.detector_model, self.pose_model, self.token = detector_model, pose_model, token
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
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
        """(status, body) of one HTTP exchange, retrying connection failures with exponential backoff."""
        headers = {"Accept": "application/json", **headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._exchange(method, self._prefix + path, body, headers)
            except (*RETRYABLE, _ConnectTimeout) as exc:
                last = exc
            except (TimeoutError, socket.timeout):
                raise BackendError(f"TorchServe at {self.base_url} did not answer {what} within {self.read_timeout:g} s: "
                                   "the server is overloaded or the model is still loading; try again, or raise "
                                   "the read timeout (a CPU-only server can take minutes).") from None
            except (OSError, http.client.HTTPException) as exc:
                raise BackendError(f"TorchServe at {self.base_url}: the exchange for {what} failed ({exc}); "
                                   "check the URL and the network.") from exc
        reason = "timed out connecting" if isinstance(last, _ConnectTimeout) else type(last).__name__
        if isinstance(last, socket.gaierror):
            reason = f"unknown host {self._host!r}"
        raise BackendError(f"Cannot reach TorchServe at {self.base_url} ({reason}, {self.retries + 1} attempts): "
                           "check the URL and that the server is running (torchserve --start), "
                           "then try again.") from last

    def _exchange(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        """One request on a fresh connection: connect_timeout for connecting, read_timeout for the reply."""
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.connect_timeout)
        try:
            try:
                conn.connect()
            except (TimeoutError, socket.timeout) as exc:
                raise _ConnectTimeout() from exc
            assert conn.sock is not None
            conn.sock.settimeout(self.read_timeout)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

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
    return isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                            and math.isfinite(v) for v in values)


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
        return f"{kind}{reply['message']}"
    return _snippet(body)


def _snippet(body: bytes | str, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")
