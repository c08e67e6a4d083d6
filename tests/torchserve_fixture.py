"""Test servers for the TorchServe backend: a real TorchServe with the project's tiny models, and a stdlib stub."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HANDLERS = Path(__file__).resolve().parent / "torchserve_handlers"  # test doubles of AD's handlers, no weights
# model name -> (handler file, variant written to variant.txt or None)
MODELS: dict[str, tuple[str, str | None]] = {
    "detector": ("detector_handler.py", None),
    "pose": ("pose_handler.py", None),
    "pose_two": ("pose_handler.py", "two"),
    "pose_none": ("pose_handler.py", "none"),
    "pose_fault": ("pose_handler.py", "fault"),
    "pose_badjson": ("pose_handler.py", "badjson"),
    "pose_wild": ("pose_handler.py", "wild"),
}


def _bin(name: str) -> str | None:
    """An executable from this interpreter's environment first (the venv), then PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def missing_tools() -> str | None:
    """Why a real TorchServe cannot run here, or None when it can."""
    for tool, hint in (("torchserve", "pip install torchserve==0.12.0"),
                       ("torch-model-archiver", "pip install torch-model-archiver==0.12.0"),
                       ("java", "install a Java 17 runtime")):
        if _bin(tool) is None:
            return f"{tool} is not installed ({hint})"
    return None


def free_ports(n: int) -> list[int]:
    """n distinct loopback ports that were free a moment ago (all bound at once, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return json.loads(reply.read())


@dataclass
class LocalTorchServe:
    """A TorchServe started on loopback in ``root`` (logs, pid file, .mar extractions all stay inside it)."""

    root: Path
    inference_url: str
    management_url: str
    ports: list[int]
    models: tuple[str, ...]
    startup_s: float = 0.0

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server and worker logs, for a failure message."""
        out = []
        for name in ("ts_log.log", "model_log.log"):
            path = self.root / "logs" / name
            if path.exists():
                out += [f"--- {name}"] + path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out) or "(no logs written)"

    def stop(self) -> None:
        """torchserve --stop, then wait (bounded) until its ports are closed and its frontend has exited."""
        pid_file = self.root / "tmp" / ".model_server.pid"
        pid = int(pid_file.read_text().strip() or 0) if pid_file.exists() else 0
        with open(self.root / "stop.log", "wb") as log:
            subprocess.run([_bin("torchserve") or "torchserve", "--stop"], cwd=self.root, env=_env(self.root),
                           stdout=log, stderr=subprocess.STDOUT, timeout=30)
        deadline = time.monotonic() + 20
        while (any(port_open(p) for p in self.ports) or _alive(pid)) and time.monotonic() < deadline:
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie of ours still "exists": it has exited when waitpid can reap it or it is not our child
    with contextlib.suppress(ChildProcessError):
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    return True


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ, TMPDIR=str(root / "tmp"), LOG_LOCATION=str(root / "logs"),
               METRICS_LOCATION=str(root / "logs"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def archive_models(store: Path, work: Path, models: dict[str, tuple[str, str | None]] = MODELS) -> None:
    """Archive each test model into ``store`` as {name}.mar (no weights: the handlers compute their replies)."""
    procs = []
    for name, (handler, variant) in models.items():
        cmd = [_bin("torch-model-archiver") or "torch-model-archiver", "--model-name", name, "--version", "1.0",
               "--handler", str(HANDLERS / handler), "--export-path", str(store), "--force"]
        if variant is not None:
            extra = work / name / "variant.txt"
            extra.parent.mkdir(parents=True, exist_ok=True)
            extra.write_text(variant)
            cmd += ["--extra-files", str(extra)]
        procs.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    for name, proc in procs:
        out, _ = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"archiving {name} failed: {out.decode(errors='replace')}")


def start_torchserve(root: Path, models: tuple[str, ...] = tuple(MODELS), timeout: float = 90.0) -> LocalTorchServe:
    """Archive the test models, start TorchServe on free loopback ports, wait until every worker is READY.

    A model not in MODELS must already be packed by the caller as ``root/store/{name}.mar``.
    Raises RuntimeError with the log tail when it is not ready within ``timeout`` s; the server is stopped then.
    """
    t0 = time.monotonic()
    store, tmp = root / "store", root / "tmp"
    store.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(exist_ok=True)
    archive_models(store, root / "extra", {m: MODELS[m] for m in models if m in MODELS})
    inference, management, metrics, grpc_inf, grpc_mgmt, worker = free_ports(6)
    cfg = root / "config.properties"
    cfg.write_text("\n".join([
        f"inference_address=http://127.0.0.1:{inference}",
        f"management_address=http://127.0.0.1:{management}",
        f"metrics_address=http://127.0.0.1:{metrics}",
        f"grpc_inference_port={grpc_inf}", f"grpc_management_port={grpc_mgmt}",
        f"initial_worker_port={worker}",
        "default_workers_per_model=1",
        f"vmargs=-Xmx512m -Djava.io.tmpdir={tmp}",
        f"model_store={store}",
        "disable_system_metrics=true",
    ]) + "\n")
    server = LocalTorchServe(root, f"http://127.0.0.1:{inference}", f"http://127.0.0.1:{management}",
                             [inference, management, metrics, grpc_inf, grpc_mgmt], models)
    cmd = [_bin("torchserve") or "torchserve", "--start", "--ncs", "--disable-token-auth",
           "--ts-config", str(cfg), "--model-store", str(store), "--models", *(f"{m}={m}.mar" for m in models)]
    with open(root / "start.log", "wb") as log:  # not a pipe: the daemon inherits it and never closes it
        started = subprocess.run(cmd, cwd=root, env=_env(root), stdout=log, stderr=subprocess.STDOUT, timeout=60)
    if started.returncode != 0:
        raise RuntimeError(f"torchserve --start failed ({started.returncode}):\n"
                           f"{(root / 'start.log').read_text(errors='replace')[-3000:]}\n{server.log_tail()}")
    deadline = t0 + timeout
    pending = set(models)
    while pending and time.monotonic() < deadline:
        for model in sorted(pending):
            with contextlib.suppress(OSError, ValueError):
                info = _get_json(f"{server.management_url}/models/{model}")
                workers = info[0].get("workers", []) if isinstance(info, list) and info else []
                if workers and all(w.get("status") == "READY" for w in workers):
                    pending.discard(model)
        time.sleep(0.1)
    if pending:
        tail = server.log_tail()
        server.stop()
        raise RuntimeError(f"TorchServe models {sorted(pending)} not READY within {timeout:g} s\n{tail}")
    server.startup_s = time.monotonic() - t0
    return server


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextlib.contextmanager
def stub_server(respond: Handler) -> Iterator[str]:
    """A loopback HTTP server in a thread whose every request is answered by ``respond``; yields its base URL.

    For faults a real TorchServe cannot be made to show on demand (a slow reply, token auth without keys).
    """

    class _Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            respond(self)

        do_GET = do_POST = _any

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep the test output quiet
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def reply(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes | str,
          content_type: str = "application/json") -> None:
    """Send one complete reply from a stub handler."""
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def drip(handler: http.server.BaseHTTPRequestHandler, data: bytes, every: float = 0.2) -> bool:
    """Send ``data`` as it is, one byte every ``every`` s, as a stalling server or link does. True when all of
    it went out; False as soon as the client has hung up (the loop is bounded by ``len(data)`` either way)."""
    for i in range(len(data)):
        try:
            handler.wfile.write(data[i:i + 1])
        except OSError:
            return False
        time.sleep(every)
    return True


def stream(handler: http.server.BaseHTTPRequestHandler, chunks: int, size: int = 64 * 1024) -> int:
    """Send up to ``chunks`` blocks of ``size`` spaces; the bytes sent before the client hung up."""
    sent = 0
    for _ in range(chunks):
        try:
            handler.wfile.write(b" " * size)
        except OSError:
            break
        sent += size
    return sent
