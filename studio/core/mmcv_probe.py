"""mmcv's compiled ops, probed in a child process: a build for the wrong torch/CUDA segfaults or hangs on its first
call, and that must be a finding of `studio doctor` (doctor.ops_checks turns it into one), not the end of it."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from typing import Any

OPS_PROBE_TIMEOUT_S = 120.0  # importing torch and mmcv takes seconds; a first CUDA call on a big GPU tens of them
KNOWN_GOOD_MATRIX = ("pin a matrix where mmcv-full 1.7.0 is known to run: torch 1.13 or 2.0 with CUDA 11.7/11.8 "
                     "(for example a CUDA 11.8 devel image), then rebuild mmcv-full there (packaging/mm/install.sh)")
_OPS_PROBE = """
import json, sys
def say(**kw):
    print(json.dumps(kw), flush=True)
say(next="import torch")
import torch
say(torch=torch.__version__, cuda=torch.version.cuda, gpu=torch.cuda.is_available(), next="import mmcv._ext")
try:
    from mmcv import _ext
except Exception as exc:
    say(error=f"{type(exc).__name__}: {exc}")
    sys.exit(0)
say(next="get_compiling_cuda_version()")
compiled = str(_ext.get_compiling_cuda_version())
say(compiled=compiled)
if torch.cuda.is_available() and compiled not in ("not available", ""):
    say(next="nms on the GPU")
    from mmcv.ops import nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32, device="cuda")
    scores = torch.tensor([0.9, 0.8, 0.7], device="cuda")
    try:
        _, keep = nms(boxes, scores, 0.5)
        torch.cuda.synchronize()
    except Exception as exc:
        say(error=f"{type(exc).__name__}: {exc}")
        sys.exit(0)
    say(nms=sorted(int(i) for i in keep.cpu().tolist()))
say(next="")
"""
NMS_EXPECTED = [0, 2]  # the second box overlaps the first at IoU 0.68 > 0.5


@dataclass(frozen=True)
class OpsProbe:
    """What the child process found about mmcv's compiled ops. ``reached``: the step it was on when it stopped
    ("" when it finished); ``died``: how it ended otherwise ("" when it exited on its own)."""

    facts: dict[str, Any]
    reached: str
    died: str = ""


def probe_mmcv_ops(timeout: float = OPS_PROBE_TIMEOUT_S) -> OpsProbe:
    """Import mmcv._ext, ask get_compiling_cuda_version(), and where a GPU is present run nms on it, all in a
    child process of this interpreter (with this environment) that may crash or hang without harm."""
    import signal
    import subprocess

    try:
        # -P: the current folder is not put first on sys.path, so a json.py or an mmcv checkout there is not run
        done = subprocess.run([sys.executable, "-P", "-c", _OPS_PROBE], capture_output=True, text=True,
                              timeout=timeout)
        out, died = done.stdout, ""
        if done.returncode < 0:
            sig = -done.returncode
            died = signal.Signals(sig).name if sig in signal.valid_signals() else f"signal {sig}"
        elif done.returncode:
            tail = done.stderr.strip().splitlines()
            died = f"exit status {done.returncode}" + (f" ({tail[-1]})" if tail else "")
    except subprocess.TimeoutExpired as exc:
        raw = exc.stdout or b""
        out = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        died = f"no answer within {timeout:g} s (hung)"
    facts: dict[str, Any] = {}
    for line in out.splitlines():
        with contextlib.suppress(ValueError):
            found = json.loads(line)
            if isinstance(found, dict):
                facts.update(found)
    return OpsProbe(facts, str(facts.get("next", "start")), died)


