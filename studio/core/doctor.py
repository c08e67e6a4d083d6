"""``studio doctor``: explain a broken torch / mmcv / TorchServe setup, with the fix for each problem."""

from __future__ import annotations

import http.client
import importlib
import importlib.metadata as metadata
import json
import platform
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from studio.core.mmcv_probe import KNOWN_GOOD_MATRIX, NMS_EXPECTED, OpsProbe, probe_mmcv_ops

OK, PROBLEM, UNKNOWN, INFO = "ok", "problem", "unknown", "info"
DEFAULT_MODELS = ("drawn_humanoid_detector", "drawn_humanoid_pose_estimator")
GET_DEADLINE_S = 5.0  # /ping and the management API answer at once when the server is well

# Version caps of the two mm lines (DESIGN.md §3): AD's .mar files need the 1.x line.
MM_CAPS = {
    "mmpose-0": ("mmcv-full", (1, 3, 8), (1, 7, 0), "mmpose 0.29 accepts mmcv-full ≤ 1.7.0"),
    "mmdet-2": ("mmcv-full", (1, 3, 17), (1, 7, 99), "mmdet 2.x needs mmcv-full < 1.8"),
    "mmdet-3": ("mmcv", (2, 0, 0), (2, 1, 99), "mmdet 3.3 needs mmcv < 2.2"),
    "mmpose-1": ("mmcv", (2, 0, 0), (2, 1, 99), "mmpose 1.x needs mmcv < 2.2"),
}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, the verdict, what was found, and how to fix it."""

    name: str
    status: str
    detail: str
    fix: str = ""


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))[:3]


def check_python() -> list[Check]:
    return [Check("python", OK if sys.version_info >= (3, 11) else PROBLEM,
                  f"{platform.python_version()} on {platform.machine()}",
                  "" if sys.version_info >= (3, 11) else "use Python 3.11 or newer")]


def check_torch() -> list[Check]:
    version = _version("torch")
    if version is None:
        return [Check("torch", INFO, "not installed: the manual and TorchServe backends still work",
                      "pip install torch==2.13.0 for the torch backend")]
    try:
        torch = importlib.import_module("torch")
    except Exception as exc:  # noqa: BLE001 - a broken install is exactly what we report
        return [Check("torch", PROBLEM, f"{version} is installed but does not import: {exc}",
                      "reinstall it: pip install --force-reinstall torch==2.13.0")]
    checks = []
    cuda = getattr(torch.version, "cuda", None)
    if cuda and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        major, minor = torch.cuda.get_device_capability(0)
        checks.append(Check("torch", OK, f"{version}, CUDA {cuda}, GPU {name} (compute capability {major}.{minor})"))
    elif cuda:
        checks.append(Check("torch", INFO, f"{version}, built for CUDA {cuda}, but no GPU is visible: runs on the CPU"))
    else:
        checks.append(Check("torch", OK, f"{version}, CPU build"))
    tv = _version("torchvision")
    if tv is not None:
        try:
            importlib.import_module("torchvision")
            same_flavour = ("+cpu" in version) == ("+cpu" in tv) or "+" not in version + tv
            checks.append(Check("torchvision", OK if same_flavour else PROBLEM, f"{tv} with torch {version}",
                                "" if same_flavour else "install the torchvision built for this torch"))
        except Exception as exc:  # noqa: BLE001
            checks.append(Check("torchvision", PROBLEM, f"{tv} does not import with torch {version}: {exc}",
                                "torchvision must match torch's version and flavour (CPU vs CUDA); on this "
                                "package index only CUDA builds exist for torch 2.13"))
    return checks


def check_embedded() -> list[Check]:
    """The built-in pose model: its weights load safely and it places 17 keypoints, with the time it takes."""
    import time

    from studio.pipeline.pose.backend import BackendError, check_keypoints
    from studio.pipeline.pose.embedded import WEIGHTS, EmbeddedBackend

    box = (50.0, 50.0, 250.0, 350.0)
    try:
        backend = EmbeddedBackend()
        image = np.full((400, 300, 3), 240, np.uint8)
        backend.pose(image, box)  # warm-up
        started = time.perf_counter()
        result = backend.pose(image, box)
        ms = 1000 * (time.perf_counter() - started)
        check_keypoints(result.keypoints, box, backend.name)  # what annotate refuses, doctor does not pass
    except BackendError as exc:
        missing = "needs PyTorch" in str(exc)
        return [Check("embedded pose model", INFO if missing else PROBLEM, str(exc),
                      "" if missing else f"restore {WEIGHTS.name} (git checkout, or reinstall the package)")]
    return [Check("embedded pose model", OK,
                  f"{WEIGHTS.name} ({WEIGHTS.stat().st_size / 1e6:.1f} MB) loads safely and matches its checksum; "
                  f"pose() {ms:.0f} ms on the CPU")]


def ops_checks(name: str, version: str, probe: OpsProbe) -> list[Check]:
    """The verdict on a probe: CPU ops are right where no GPU is present; a crash or hang is a finding."""
    label, f = f"{name} ops", probe.facts
    stack = f"torch {f.get('torch', '?')} + CUDA {f.get('cuda') or 'none'}"
    if probe.died.startswith("exit status"):  # a Python error, not a crash: it says what is wrong
        return [Check(label, PROBLEM, f"{name} {version}: the ops probe failed at {probe.reached} ({probe.died})",
                      "fix what the error names (torch must import beside mmcv), then run studio doctor again")]
    if probe.died:
        return [Check(label, PROBLEM, f"{name} {version} with {stack}: the ops probe died ({probe.died}) at "
                      f"{probe.reached or 'its end'}, so every prediction that uses them fails",
                      f"this {name} build does not run on {stack}; {KNOWN_GOOD_MATRIX}")]
    if "error" in f:
        return [Check(label, PROBLEM, f"{name} {version}: compiled ops fail at {probe.reached} ({f['error']})",
                      "rebuild it: packaging/mm/install.sh (sets setuptools<82, --no-build-isolation)")]
    compiled, gpu = str(f.get("compiled", "")), bool(f.get("gpu"))
    if compiled in ("not available", ""):
        if gpu:
            return [Check(label, PROBLEM, f"{name} {version}: ops were built without CUDA, and a GPU is present",
                          "rebuild with FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=<your GPU, e.g. 8.0 for an A100> "
                          "packaging/mm/install.sh — without CUDA ops TorchServe answers Healthy and every "
                          "prediction fails with 500")]
        return [Check(label, OK, f"{name} {version}: CPU ops, and no GPU here, so CPU ops are what runs (a GPU "
                      "server needs a build with FORCE_CUDA=1)")]
    if not gpu:
        return [Check(label, OK, f"{name} {version}: ops compiled with CUDA {compiled}; no GPU here to run them on")]
    if f.get("nms") != NMS_EXPECTED:
        return [Check(label, PROBLEM, f"{name} {version}: nms on the GPU kept boxes {f.get('nms')}, not "
                      f"{NMS_EXPECTED}", f"the ops do not run right on this GPU; {KNOWN_GOOD_MATRIX}")]
    return [Check(label, OK, f"{name} {version}: ops compiled with CUDA {compiled}; nms ran right on the GPU")]


def check_mmcv(probe: Callable[[], OpsProbe] = probe_mmcv_ops) -> list[Check]:
    full, lite = _version("mmcv-full"), _version("mmcv")
    if full is None and lite is None:
        return [Check("mmcv", INFO, "not installed (only needed for --backend mm)",
                      "packaging/mm/install.sh builds mmcv-full 1.7.0 the way that works")]
    name, version = ("mmcv-full", full) if full else ("mmcv", lite)
    checks = ops_checks(name, version or "?", probe())
    for package, prefix in (("mmpose", "mmpose-"), ("mmdet", "mmdet-")):
        installed = _version(package)
        if installed is None:
            continue
        key = f"{prefix}{_tuple(installed)[0]}"
        if key not in MM_CAPS:
            continue
        need, low, high, why = MM_CAPS[key]
        have = _version(need)
        fine = have is not None and low <= _tuple(have) <= high
        checks.append(Check(f"{package} caps", OK if fine else PROBLEM,
                            f"{package} {installed} with {need} {have or 'missing'}",
                            "" if fine else f"{why}: install a matching {need}"))
    return checks


def check_build_tools() -> list[Check]:
    checks = []
    setuptools = _version("setuptools")
    try:
        importlib.import_module("pkg_resources")
        has_pkg = True
    except Exception:  # noqa: BLE001
        has_pkg = False
    needed = _version("mmcv-full") is not None or _version("mmcv") is not None
    status = OK if has_pkg or not needed else PROBLEM
    checks.append(Check("setuptools", status, f"{setuptools or 'missing'}, pkg_resources "
                        f"{'present' if has_pkg else 'absent'}",
                        "" if status == OK else "pip install 'setuptools<82' (mmcv and mmengine import "
                        "pkg_resources at runtime)"))
    numpy = _version("numpy") or "missing"
    mm_old = _version("mmcv-full") is not None
    bad = mm_old and numpy != "missing" and _tuple(numpy)[0] >= 2
    major = _tuple(numpy)[0] if numpy != "missing" else "?"
    checks.append(Check("numpy", PROBLEM if bad else OK, f"{numpy} (numpy {major})",
                        "pip install 'numpy<2' for mmcv-full 1.x" if bad else ""))
    return checks


class _Status(Exception):
    """A reply with an HTTP status other than 2xx."""

    def __init__(self, code: int) -> None:
        super().__init__(f"HTTP {code}")
        self.code = code


def _get_json(url: str, token: str | None, deadline: float = GET_DEADLINE_S) -> Any:
    """The JSON reply to a GET, through the backend's own request (its deadline and size cap). Raises _Status,
    BackendError (no complete reply in time, or too large), OSError, HTTPException, or ValueError (not JSON)."""
    from studio.pipeline.pose.torchserve import exchange

    status, body = exchange(url, headers={"Authorization": f"Bearer {token}"} if token else None,
                            connect_timeout=deadline, deadline=deadline)
    if not 200 <= status < 300:
        raise _Status(status)
    try:
        return json.loads(body.decode("utf-8"))
    except RecursionError:
        raise ValueError("the reply is nested too deeply to be TorchServe's JSON") from None


def check_torchserve(endpoint: str, management: str | None = None, token: str | None = None,
                     models: tuple[str, str] = DEFAULT_MODELS, deadline: float | None = None) -> list[Check]:
    """/ping, the workers of each model (with ``management``), and a detector and pose prediction validated as
    annotate validates them. ``deadline``: seconds for each prediction's whole reply (default: the backend's);
    /ping and the management API get at most GET_DEADLINE_S."""
    from studio.pipeline.pose.backend import BackendError

    base = endpoint.rstrip("/")
    checks = []
    quick = GET_DEADLINE_S if deadline is None else min(GET_DEADLINE_S, deadline)
    try:
        ping = _get_json(f"{base}/ping", token, quick)
        healthy = isinstance(ping, dict) and ping.get("status") == "Healthy"
        checks.append(Check("torchserve ping", OK if healthy else PROBLEM, f"{base}/ping → {_excerpt(ping)}",
                            "" if healthy else "the server is up but not healthy: read its logs"))
    except _Status as exc:
        fix = ("token auth is on (TorchServe ≥ 0.11): pass --token KEY or start it with --disable-token-auth"
               if exc.code in (400, 401) else "check the URL and the server log")
        return [Check("torchserve ping", PROBLEM, f"{base}/ping → HTTP {exc.code}", fix)]
    except BackendError as exc:
        return [Check("torchserve ping", PROBLEM, str(exc),
                      "the server accepts connections but does not answer: read its log (logs/ts_log.log), and "
                      "check that the URL is TorchServe's inference address (usually :8080)")]
    except (UnicodeDecodeError, json.JSONDecodeError):
        return [Check("torchserve ping", PROBLEM, f"{base}/ping does not answer with JSON",
                      "check that the URL is TorchServe's inference address (usually :8080)")]
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return [Check("torchserve ping", PROBLEM, f"cannot reach {base}: {exc}",
                      "start TorchServe, or check the host and port (inference is usually :8080)")]
    if management:
        mgmt = management.rstrip("/")
        try:
            for entry in _get_json(f"{mgmt}/models", token, quick).get("models", []):
                name = entry.get("modelName")
                described = _get_json(f"{mgmt}/models/{name}", token, quick)
                workers = [w for d in described for w in d.get("workers", [])]
                ready = [w for w in workers if w.get("status") == "READY"]
                checks.append(Check(f"model {name}", OK if ready else PROBLEM,
                                    f"{len(ready)}/{len(workers)} workers READY",
                                    "" if ready else "no worker is ready: read the model's log (model_log.log)"))
        except Exception as exc:  # noqa: BLE001
            checks.append(Check("torchserve models", UNKNOWN, f"management API at {mgmt} failed: {exc}",
                                "the management API answers on its own port (usually :8081)"))
    checks.extend(_prediction_probe(base, token, models, deadline))
    return checks


def _excerpt(value: Any, limit: int = 120) -> str:
    """A reply for the report: its JSON text, on one line, cut short."""
    text = " ".join(json.dumps(value).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _prediction_probe(base: str, token: str | None, models: tuple[str, str],
                      deadline: float | None = None) -> list[Check]:
    """A detection and a pose on the built-in drawing; the keypoints pass only what annotate accepts."""
    from studio.pipeline.pose.backend import BackendError, check_detections, check_keypoints
    from studio.pipeline.pose.torchserve import DEADLINE_S, TorchServeBackend
    from studio.core.sample import sample_image

    backend = TorchServeBackend(base, detector_model=models[0], pose_model=models[1], token=token, retries=1,
                                deadline=DEADLINE_S if deadline is None else deadline)
    drawing = sample_image()
    try:
        detections = backend.detect(drawing)
        check_detections(detections, backend.name)  # what annotate refuses, doctor does not pass
        checks = [Check("prediction: detector", OK if detections else PROBLEM,
                        f"{len(detections)} box(es) on the built-in test drawing",
                        "" if detections else "the detector found nothing on a clear drawing")]
    except BackendError as exc:
        return [Check("prediction: detector", PROBLEM, str(exc).splitlines()[0], _fix_for(str(exc), "detector"))]
    h, w = drawing.shape[:2]
    box = detections[0].box if detections else (0.0, 0.0, float(w), float(h))
    try:
        result = backend.pose(drawing, box)
        check_keypoints(result.keypoints, box, backend.name)
        checks.append(Check("prediction: pose", OK, f"17 keypoints in AD's shape{'; ' if result.notes else ''}"
                            f"{'; '.join(result.notes)}"))
    except (BackendError, ValueError) as exc:
        checks.append(Check("prediction: pose", PROBLEM, str(exc).splitlines()[0], _fix_for(str(exc))))
    return checks


def _fix_for(message: str, model: str = "pose") -> str:
    if model == "detector" and "not a detector" in message:  # pose.check_detections refused it, as annotate would
        return ("the model answers, but not with a figure's boxes: check that this name serves AD's detector "
                "and that its weights are intact")
    if "500" in message:
        return ("a Healthy server whose predictions fail with 500 usually has mmcv ops built without CUDA: "
                "rebuild mmcv-full with FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=<GPU> (packaging/mm/install.sh)")
    if "404" in message:
        return "register the model: torchserve --models NAME=FILE.mar (the .mar must be in the model store)"
    if "weights" in message:  # pose.check_keypoints refused the reply, as annotate would
        return ("the model answers, but not with a figure's keypoints: check that this name serves AD's pose model "
                "and that its weights are intact")
    return "see the message above"


def run_checks(endpoint: str | None = None, management: str | None = None, token: str | None = None,
               models: tuple[str, str] = DEFAULT_MODELS, deadline: float | None = None) -> list[Check]:
    steps: list[Callable[[], list[Check]]] = [check_python, check_torch, check_embedded, check_mmcv,
                                              check_build_tools]
    checks: list[Check] = []
    for step in steps:
        try:
            checks.extend(step())
        except Exception as exc:  # noqa: BLE001 - one failing check must not hide the others
            checks.append(Check(step.__name__.replace("check_", ""), UNKNOWN, f"could not check: {exc}"))
    if endpoint:
        try:
            checks.extend(check_torchserve(endpoint, management, token, models, deadline))
        except Exception as exc:  # noqa: BLE001
            checks.append(Check("torchserve", UNKNOWN, f"could not check: {exc}"))
    return checks


def exit_code(checks: list[Check]) -> int:
    """0 all well, 1 problems, 2 could not check."""
    if any(c.status == PROBLEM for c in checks):
        return 1
    return 2 if any(c.status == UNKNOWN for c in checks) else 0


def format_report(checks: list[Check]) -> str:
    marks = {OK: "ok  ", PROBLEM: "FAIL", UNKNOWN: "??  ", INFO: "info"}
    lines = []
    for c in checks:
        lines.append(f"[{marks[c.status]}] {c.name}: {c.detail}")
        if c.fix and c.status in (PROBLEM, UNKNOWN, INFO):
            lines.append(f"       fix: {c.fix}")
    return "\n".join(lines)
