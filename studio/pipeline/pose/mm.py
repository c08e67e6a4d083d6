"""The in-process mm backend: AD's .mar models run with mmdet 2.x / mmpose 0.x (optional extra ``[mm]``)."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from studio.pipeline.pose.archive import check_archive_budget, copy_member, safe_member_name
from studio.pipeline.pose.backend import BackendError, Box, Detection, PoseResult
from studio.pipeline.quoting import clip, excerpt


def safe_extract(archive: str | Path, folder: str | Path) -> Path:
    """Extract every entry of a .mar/zip into ``folder``, refusing the whole archive if any entry name
    could land outside it (absolute paths, ``..``, drive letters, backslash tricks), or if it is a zip bomb:
    sizes are checked from the headers before writing and again while streaming (pose_torch's budget).
    A refused archive leaves no file behind."""
    folder = Path(folder).resolve()
    shown = Path(archive).name
    written: list[Path] = []
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (OSError, EOFError) as exc:  # OSError also where a broken end record points zipfile's seek
            raise BackendError(f"{archive}: cannot be read as a .mar/zip archive ({clip(str(exc))})") from None
        with zf:
            for info in zf.infolist():
                target = (folder / info.filename.replace("\\", "/")).resolve()
                if not safe_member_name(info.filename) or folder not in (target, *target.parents):
                    raise BackendError(f"{archive}: refusing an archive entry outside its folder: "
                                       f"{excerpt(info.filename)}")
            budget = check_archive_budget(zf, [i for i in zf.infolist() if not i.is_dir()], shown)
            for info in zf.infolist():
                target = folder / info.filename.replace("\\", "/")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                budget -= copy_member(zf, info, target, budget, shown)
                written.append(target)
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(exc, zipfile.BadZipFile):
            raise BackendError(f"{archive}: not a .mar/zip archive, or a damaged one") from None
        if isinstance(exc, FileExistsError):
            raise BackendError(f"{archive}: refused: an entry is listed twice (or the folder was not empty)") from None
        raise
    return folder


def _model_files(source: str | Path, work: Path) -> tuple[Path, Path]:
    """(config.py, checkpoint .pth) from a .mar, a folder, or a .pth with config.py beside it."""
    source = Path(source)
    if not source.exists():
        raise BackendError(f"{source}: not found")
    if source.is_file() and zipfile.is_zipfile(source) and source.suffix.lower() in (".mar", ".zip"):
        source = safe_extract(source, tempfile.mkdtemp(prefix=f"{source.stem}-", dir=work))
    folder = source if source.is_dir() else source.parent
    configs = sorted(folder.glob("*config*.py")) or sorted(folder.glob("*.py"))
    checkpoints = [source] if source.is_file() else sorted(folder.glob("*.pth"))
    if not configs or not checkpoints:
        raise BackendError(f"{source}: needs an mm config .py and a .pth checkpoint (found {len(configs)} and "
                           f"{len(checkpoints)})")
    return configs[0], checkpoints[0]


def _load_weights(model: Any, state: dict[str, Any], checkpoint: Path) -> None:
    """Load ``state`` into ``model``; weights that the config's network lacks, or lacks weights for, are an
    error naming them (a silent partial load gives a model that predicts noise)."""
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    unexpected = [k for k in result.unexpected_keys if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} weights missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} weights the config has no place for (e.g. {', '.join(unexpected[:3])})")
        raise BackendError(f"{checkpoint.name} does not fit its config: {'; '.join(parts)}. Use the config that "
                           "came with the checkpoint (inside the .mar)")


def _require_mm() -> tuple[Any, Any]:
    try:
        import mmdet.apis as mmdet_apis  # type: ignore[import-not-found]
        import mmpose.apis as mmpose_apis  # type: ignore[import-not-found]
    except Exception as exc:  # noqa: BLE001 - any import failure means the optional stack is unusable
        raise BackendError(f"the mm backend needs mmcv-full 1.7.0, mmdet 2.27 and mmpose 0.29 ({exc}); build "
                           "them with packaging/mm/install.sh and check with 'studio doctor'") from None
    return mmdet_apis, mmpose_apis


class MMBackend:
    """AD's models in process. Weights are loaded with the project's safe loader (weights_only, numpy
    allowlist), never with mmcv's own torch.load."""

    name = "mm"

    def __init__(self, pose_model: str | Path, detector_model: str | Path | None = None,
                 device: str | None = None) -> None:
        mmdet_apis, mmpose_apis = _require_mm()  # first: its error says what to install, torch included
        import torch

        from studio.pipeline.pose.torch_backend import load_state_dict

        self._work = tempfile.TemporaryDirectory(prefix="studio-mm-")
        self.device = device or ("cuda:0" if torch.cuda.is_available() else "cpu")
        config, checkpoint = _model_files(pose_model, Path(self._work.name))
        self._mmpose = mmpose_apis
        self.pose_net = mmpose_apis.init_pose_model(str(config), None, device=self.device)
        _load_weights(self.pose_net, load_state_dict(checkpoint), checkpoint)
        self.detector = None
        self._mmdet = mmdet_apis
        if detector_model is not None:
            config, checkpoint = _model_files(detector_model, Path(self._work.name))
            self.detector = mmdet_apis.init_detector(str(config), None, device=self.device)
            _load_weights(self.detector, load_state_dict(checkpoint), checkpoint)

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        if self.detector is None:  # pose model only: the classical box finder for drawings on paper
            from studio.pipeline.intake.box import find_figure_box

            return [find_figure_box(image_rgb)]
        result = self._mmdet.inference_detector(self.detector, np.ascontiguousarray(image_rgb[:, :, ::-1]))
        boxes = result[0] if isinstance(result, tuple) else result  # Mask R-CNN gives (boxes, masks)
        rows = np.concatenate([np.asarray(b).reshape(-1, 5) for b in boxes]) if len(boxes) else np.zeros((0, 5))
        rows = rows[np.argsort(-rows[:, 4])]
        return [Detection((float(r[0]), float(r[1]), float(r[2]), float(r[3])), float(r[4])) for r in rows]

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        people, _ = self._mmpose.inference_top_down_pose_model(
            self.pose_net, np.ascontiguousarray(image_rgb[:, :, ::-1]), [{"bbox": list(box)}], format="xyxy")
        if not people:
            raise BackendError("no figure found by the pose model")
        return PoseResult(np.asarray(people[0]["keypoints"], float)[:, :3])
