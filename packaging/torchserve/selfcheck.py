"""Build-time self-check of a TorchServe image: the build fails unless the image can really predict.

    python selfcheck.py [--stages mmcv,archs,serve] [--arch "8.0;9.0"] [--require-gpu] [--model-store DIR]

Stages, each failing the build with one line that says why and what to change:

- ``mmcv``: in a child process (a segfault there is a finding, not a crash of this script), import mmcv-full's ops
  and ask how they were compiled: "not available" means mmcv was built without CUDA, the pod that is "Healthy"
  while every prediction answers 500. With ``--cuda`` the ops must have CUDA; where a GPU is visible, ``nms`` and
  ``roi_align`` run on it and must agree with the CPU. A plain ``docker build`` sees no GPU: then the CUDA kernels
  are first run by the readiness probe (probe.py), before the pod takes traffic.
- ``archs``: the GPU architectures compiled into mmcv's ``_ext`` (``cuobjdump --list-elf``) must include every one
  of ``--arch`` (TORCH_CUDA_ARCH_LIST), e.g. 8.0 for an A100 and 9.0 for an H100/H200.
- ``serve``: start TorchServe on loopback with the image's config and model store, wait for every model's worker,
  and run probe.py's real prediction on the built-in drawing; then stop it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXIT_OK, EXIT_FAILED = 0, 1

# Run in a child: prints one JSON line {"cuda": compiling CUDA version, "gpu": bool, "ops": "agree" | reason}.
_MMCV_CHILD = r"""
import json, torch
from mmcv.ops import get_compiling_cuda_version, nms, roi_align
cuda = get_compiling_cuda_version()
out = {"cuda": cuda, "gpu": bool(torch.cuda.is_available()), "ops": "not run"}
if out["gpu"] and cuda != "not available":
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    feats = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(1, 2, 16, 16)
    rois = torch.tensor([[0, 1.5, 1.5, 9.5, 9.5]])
    keep_cpu = nms(boxes, scores, 0.5)[1]
    keep_gpu = nms(boxes.cuda(), scores.cuda(), 0.5)[1].cpu()
    align_cpu = roi_align(feats, rois, (4, 4), 1.0, 2, "avg", True)
    align_gpu = roi_align(feats.cuda(), rois.cuda(), (4, 4), 1.0, 2, "avg", True).cpu()
    same = torch.equal(keep_cpu, keep_gpu) and torch.allclose(align_cpu, align_gpu, atol=1e-4)
    out["ops"] = "agree" if same else "nms or roi_align on the GPU disagrees with the CPU"
print(json.dumps(out))
"""


class CheckFailed(Exception):
    """One line: what is wrong with the image, and what to change."""


def check_mmcv(need_cuda: bool, require_gpu: bool, python: str = sys.executable) -> str:
    """The ``mmcv`` stage, in a child process."""
    try:
        child = subprocess.run([python, "-c", _MMCV_CHILD], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise CheckFailed("mmcv's ops did not answer within 300 s") from None
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        raise CheckFailed(f"mmcv's ops crashed the process ({name}) before any prediction: mmcv-full was built for "
                          "another torch or CUDA than this image runs; rebuild it against this torch "
                          "(see README: the matrix)")
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no message"])[-1]
        if "No module named 'mmcv" in child.stderr:
            raise CheckFailed("mmcv-full is not installed (pip install --no-build-isolation mmcv-full==1.7.0)")
        raise CheckFailed(f"mmcv's ops failed to load: {last}")
    report = json.loads(child.stdout.strip().splitlines()[-1])
    if need_cuda and report["cuda"] == "not available":
        raise CheckFailed("mmcv-full was built without CUDA ops (MMCV CUDA Compiler: not available): every "
                          "prediction on a GPU would answer 500; rebuild with FORCE_CUDA=1 and nvcc on PATH")
    if require_gpu and not report["gpu"]:
        raise CheckFailed("no GPU is visible to torch, and --require-gpu was given")
    if report["ops"] not in ("agree", "not run"):
        raise CheckFailed(report["ops"])
    ran = "nms and roi_align agree on GPU and CPU" if report["ops"] == "agree" else \
        "no GPU visible: the CUDA kernels are first run by the readiness probe"
    return f"mmcv ops compiled with CUDA {report['cuda']}; {ran}"


def compiled_archs(listing: str) -> set[str]:
    """The architectures in ``cuobjdump --list-elf`` output ("... .sm_80.cubin" lines) as "8.0", "9.0", ..."""
    return {f"{int(m[:-1])}.{m[-1]}" for m in re.findall(r"\bsm_(\d{2,3})[a-z]?\b", listing)}


def wanted_archs(arch_list: str) -> list[str]:
    """TORCH_CUDA_ARCH_LIST's architectures ("8.0;8.6+PTX 9.0" -> ["8.0", "8.6", "9.0"])."""
    return [a.replace("+PTX", "") for a in re.split(r"[;\s]+", arch_list.strip()) if a]


def check_archs(arch_list: str, python: str = sys.executable) -> str:
    """The ``archs`` stage: cuobjdump over mmcv's compiled extension."""
    where = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('mmcv._ext').origin)"],
                           capture_output=True, text=True, timeout=120)
    if where.returncode != 0:
        raise CheckFailed("mmcv._ext is not there: mmcv-full was installed without its compiled ops")
    tool = shutil.which("cuobjdump")
    if tool is None:
        raise CheckFailed("cuobjdump is not on PATH (it comes with the CUDA toolkit of a devel base image)")
    listing = subprocess.run([tool, "--list-elf", where.stdout.strip()], capture_output=True, text=True, timeout=300)
    found = compiled_archs(listing.stdout)
    missing = [a for a in wanted_archs(arch_list) if a not in found]
    if missing:
        raise CheckFailed(f"mmcv's ops hold no kernels for {', '.join(missing)} (compiled: "
                          f"{', '.join(sorted(found)) or 'none'}): set TORCH_CUDA_ARCH_LIST={arch_list!r} "
                          "for the build of mmcv-full")
    return f"mmcv's ops hold kernels for {', '.join(sorted(found))}"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _ready(management: str, deadline: float) -> list[str]:
    """Wait until every registered model has all its workers READY; returns the models' names."""
    last = "no reply"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{management}/models", timeout=2) as reply:
                names = [m["modelName"] for m in json.loads(reply.read())["models"]]
            states = []
            for name in names:
                with urllib.request.urlopen(f"{management}/models/{name}", timeout=2) as reply:
                    states += [w.get("status") for w in json.loads(reply.read())[0].get("workers", [])]
            if names and states and all(s == "READY" for s in states):
                return names
            last = f"models {names}, workers {states}"
        except (OSError, ValueError, KeyError, IndexError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise CheckFailed(f"TorchServe's models were not READY in time ({last})")


@contextlib.contextmanager
def serving(config: Path, model_store: Path, timeout: float = 600.0) -> Iterator[tuple[str, str, list[str]]]:
    """TorchServe started with ``config`` (this image's) on free loopback ports, every model's workers READY;
    yields (inference URL, management URL, the models' names) and stops it after."""
    root = Path(tempfile.mkdtemp(prefix="selfcheck-"))
    inference, management, metrics, grpc_i, grpc_m = _free_ports(5)
    env = dict(os.environ, TS_INFERENCE_ADDRESS=f"http://127.0.0.1:{inference}",
               TS_MANAGEMENT_ADDRESS=f"http://127.0.0.1:{management}", TS_METRICS_ADDRESS=f"http://127.0.0.1:{metrics}",
               TS_GRPC_INFERENCE_PORT=str(grpc_i), TS_GRPC_MANAGEMENT_PORT=str(grpc_m), TS_MODEL_STORE=str(model_store),
               TMPDIR=str(root), LOG_LOCATION=str(root / "logs"), METRICS_LOCATION=str(root / "logs"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    torchserve = shutil.which("torchserve", path=env["PATH"]) or "torchserve"
    start = [torchserve, "--start", "--ncs", "--ts-config", str(config), "--model-store", str(model_store),
             "--models", "all"]
    try:
        with open(root / "start.log", "wb") as log:
            started = subprocess.run(start, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=120)
        if started.returncode != 0:
            raise CheckFailed(f"torchserve --start failed: {(root / 'start.log').read_text(errors='replace')[-500:]}")
        names = _ready(f"http://127.0.0.1:{management}", time.monotonic() + timeout)
        yield f"http://127.0.0.1:{inference}", f"http://127.0.0.1:{management}", names
    finally:
        subprocess.run([torchserve, "--stop"], cwd=root, env=env, capture_output=True, timeout=60)
        _wait_closed([inference, management, metrics], time.monotonic() + 30)
        shutil.rmtree(root, ignore_errors=True)


def check_serve(config: Path, model_store: Path, detector: str, pose: str, min_iou: float = 0.5) -> str:
    """The ``serve`` stage: TorchServe with this image's config on loopback ports, then probe.py's prediction."""
    if not any(model_store.glob("*.mar")):
        raise CheckFailed(f"no model archives (.mar) in {model_store}: put {detector}.mar and {pose}.mar there "
                          "(see README)")
    sys.path.insert(0, str(HERE))
    from probe import probe

    with serving(config, model_store) as (inference, _, names):
        missing = [m for m in (detector, pose) if m not in names]
        if missing:
            raise CheckFailed(f"the model store serves {names}, not {', '.join(missing)}")
        try:
            return probe(inference, detector, pose, None, 120.0, min_iou)
        except Exception as exc:  # noqa: BLE001 - reported as the stage's one line
            raise CheckFailed(f"a real prediction failed: {' '.join(str(exc).split())[:500]}") from None


def _wait_closed(ports: list[int], deadline: float) -> None:
    """torchserve --stop returns before the frontend has let go of its ports."""
    def open_(port: int) -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    while any(open_(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stages", default="mmcv,archs,serve", help="comma-separated: mmcv, archs, serve")
    parser.add_argument("--cuda", action="store_true", help="mmcv's ops must have been compiled with CUDA")
    parser.add_argument("--arch", default=os.environ.get("TORCH_CUDA_ARCH_LIST", "8.0;9.0"),
                        help="architectures mmcv's ops must hold (default $TORCH_CUDA_ARCH_LIST, else 8.0;9.0)")
    parser.add_argument("--require-gpu", action="store_true", default=os.environ.get("SELFCHECK_REQUIRE_GPU") == "1",
                        help="fail when no GPU is visible (default: $SELFCHECK_REQUIRE_GPU=1)")
    parser.add_argument("--config", type=Path, default=HERE / "config.properties")
    parser.add_argument("--model-store", type=Path, default=HERE / "model-store")
    parser.add_argument("--detector-model", default="drawn_humanoid_detector")
    parser.add_argument("--pose-model", default="drawn_humanoid_pose_estimator")
    parser.add_argument("--min-iou", type=float, default=0.5, help="see probe.py")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - {"mmcv", "archs", "serve"})
    if unknown:
        parser.error(f"unknown stages {unknown}: mmcv, archs, serve")
    try:
        for stage in stages:
            if stage == "mmcv":
                line = check_mmcv(args.cuda, args.require_gpu)
            elif stage == "archs":
                line = check_archs(args.arch)
            else:
                line = check_serve(args.config, args.model_store, args.detector_model, args.pose_model,
                                   min_iou=args.min_iou)
            print(f"selfcheck {stage}: {line}", flush=True)
    except CheckFailed as exc:
        print(f"selfcheck {stage}: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
