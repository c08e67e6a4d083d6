"""Annotation: an image → box → mask → joints → an AD character folder, with any pose backend."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from studio.pipeline.intake.box import box_overlaps
from studio.pipeline.intake.images import LoadedImage, read_image
from studio.pipeline.pose.manual import ManualBackend
from studio.pipeline.pose.backend import (AD_SKELETON, UNSURE_SCORE, BackendError, Box, Detection, PoseBackend,
                                          PoseResult, check_box, check_detections, check_keypoints, coco_to_ad)
from studio.pipeline.pose.refine import REFINE_STEPS, figure_crop, figure_size, reach_px, refine_in_box, snap_inside
from studio.pipeline.progress import Cancel

if TYPE_CHECKING:  # imported where used: `studio pose` needs neither the character format (yaml) nor file writing
    from studio.pipeline.character import Character

StageProgress = Callable[[str], None]
"""stage_progress(stage): told the name of each stage as it starts ("finding the figure"...)."""


@dataclass(eq=False)
class Annotation:
    """The result of annotating one drawing: the character plus what was used to get it."""

    image: LoadedImage
    box: Box
    character: Character
    keypoints: np.ndarray  # (17, 3) COCO keypoints in working-image px, refined on the mask (refine.REFINE_STEPS)
    notes: list[str] = field(default_factory=list)
    unsure: tuple[str, ...] = ()  # AD joints the backend scored below UNSURE_SCORE: the user should check them


def auto_backend_name(endpoint: str | None = None) -> str:
    """What "auto" means here: the TorchServe endpoint when one is configured, else the embedded model when
    torch and its weights are present, else manual."""
    if endpoint:
        return "torchserve"
    from studio.pipeline.pose.embedded import available

    return "embedded" if available() else "manual"


def make_backend(name: str, endpoint: str | None = None, checkpoint: str | None = None,
                 token: str | None = None, deadline: float | None = None) -> PoseBackend:
    """The backend called ``name``: auto, embedded, manual, torchserve (needs endpoint), torch (needs
    checkpoint) or mm. ``deadline``: seconds TorchServe has for each whole reply (default: torchserve.DEADLINE_S)."""
    if name == "auto":
        name = auto_backend_name(endpoint)
    if name == "manual":
        return ManualBackend()
    if name == "embedded":
        from studio.pipeline.pose.embedded import EmbeddedBackend

        return EmbeddedBackend(checkpoint)
    if name == "torchserve":
        if not endpoint:
            raise BackendError("the torchserve backend needs --endpoint URL (for example http://127.0.0.1:8080)")
        from studio.pipeline.pose.torchserve import DEADLINE_S, TorchServeBackend

        return TorchServeBackend(endpoint, token=token, deadline=DEADLINE_S if deadline is None else deadline)
    if name == "torch":
        if not checkpoint:
            raise BackendError("the torch backend needs --checkpoint PATH (.pth or AD's .mar)")
        from studio.pipeline.pose.torch_backend import TorchPoseBackend

        return TorchPoseBackend(checkpoint)
    if name == "mm":
        if not checkpoint:
            raise BackendError("the mm backend needs --checkpoint PATH (AD's drawn_humanoid_pose_estimator.mar or "
                               "a folder with its config .py and .pth)")
        from studio.pipeline.pose.mm import MMBackend

        return MMBackend(checkpoint)
    raise BackendError(f"unknown backend {name!r}: auto, embedded, manual, torchserve, torch or mm")


_LOADED: dict[tuple[object, ...], PoseBackend] = {}  # the latest backend loaded_backend made, by its settings
_LOADING = threading.Lock()


def loaded_backend(name: str, endpoint: str | None = None, checkpoint: str | None = None,
                   token: str | None = None, deadline: float | None = None) -> PoseBackend:
    """make_backend's backend, kept for the next call with the same settings: a window or a batch worker loads a
    model once, not once per drawing (a torch checkpoint took 1-2 s to load, and a GPU's copy of it stays). A
    checkpoint file replaced since (another size or modification time) is loaded again. Only the latest backend
    is kept, so that switching backends does not hold two models. Callers on several threads share it, one call
    at a time: OpenCV's network (the embedded model) mixes up two threads' inputs, and torch's thread setting is
    global."""
    key = (name, endpoint, checkpoint, _file_stamp(checkpoint), token, deadline)
    with _LOADING:
        backend = _LOADED.get(key)
        if backend is None:
            backend = OneCallAtATime(make_backend(name, endpoint, checkpoint, token, deadline))
            _LOADED.clear()
            _LOADED[key] = backend
        return backend


class OneCallAtATime:
    """A pose backend shared by threads: its detect and pose calls take turns."""

    def __init__(self, backend: PoseBackend) -> None:
        self.backend = backend
        self.name = backend.name
        self._turn = threading.Lock()

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        with self._turn:
            return self.backend.detect(image_rgb)

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        with self._turn:
            return self.backend.pose(image_rgb, box)


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    """(size, modification time in ns) of a file, None when there is none."""
    try:
        info = os.stat(path) if path else None
    except OSError:
        return None
    return None if info is None else (info.st_size, info.st_mtime_ns)


def annotate(image_path: str | Path, backend: PoseBackend, box: Box | None = None,
             progress: StageProgress | None = None) -> Annotation:
    """Annotate one drawing: the whole pipeline. ``box`` (working-image px) overrides detection."""
    say = progress or (lambda stage: None)
    say("reading the image")
    return annotate_image(read_image(image_path), backend, box, say)


class AnnotateCancelled(Exception):
    """The caller's cancel flag was set between two stages."""


def _fmt(box: Box) -> str:
    return ",".join(f"{v:g}" for v in box)


def annotate_image(image: LoadedImage, backend: PoseBackend, box: Box | None = None,
                   progress: StageProgress | None = None, cancel: Cancel | None = None) -> Annotation:
    """The annotation pipeline on an image already read: box (detected unless given), mask, joints. ``cancel`` is
    checked before each stage."""

    def say(stage: str) -> None:
        if cancel is not None and cancel():
            raise AnnotateCancelled(f"cancelled before {stage}")
        if progress is not None:
            progress(stage)

    h, w = image.rgb.shape[:2]
    notes: list[str] = []
    if box is None:
        say("finding the figure")
        detections = backend.detect(image.rgb)
        check_detections(detections, backend.name)
        if not detections:
            raise BackendError("no figure found: is the drawing on plain paper, with a clear outline?")
        if len(detections) > 1:
            notes.append(f"{len(detections)} figures detected: using the most confident one")
        box = detections[0].box
    elif not box_overlaps(check_box(box), w, h):
        raise ValueError(f"the box {_fmt(box)} lies outside the {w}×{h} px image (the size the studio works at)")
    say("cutting out the figure")
    box, cut, mask = figure_crop(image.rgb, box)
    say(f"placing the skeleton ({backend.name})")
    result = backend.pose(image.rgb, box)
    check_keypoints(result.keypoints, box, backend.name)
    notes.extend(result.notes)
    keypoints = refine_in_box(result.keypoints, mask, box, REFINE_STEPS)
    names, parents, locs = coco_to_ad(keypoints)
    local = locs - np.array(box[:2])
    local = np.clip(local, 0, [cut.shape[1] - 1, cut.shape[0] - 1])
    scores = _joint_scores(result.keypoints)
    # root, hip and torso average two joints, so they can fall off the mask between them; as refinement's "inside", a
    # joint further off than the reach stays where it is (its limb is likely missing from the mask: the user's to fix)
    local = np.round(snap_inside(local, mask, reach_px(scores, figure_size(mask))))
    low = [name for name, score in zip(names, scores) if 0 < score < UNSURE_SCORE]
    if low:
        notes.append(f"low confidence: check {', '.join(n.replace('_', ' ') for n in joints_to_name(low))}")
    from studio.pipeline.character import Character

    index = {n: i for i, n in enumerate(names)}
    texture = np.dstack([cut, mask])
    character = Character(names, tuple(-1 if p is None else index[p] for p in parents), local, texture, mask,
                          tuple(int(v) for v in box), image.source)  # type: ignore[arg-type]
    return Annotation(image, box, character, keypoints, notes, tuple(low))


def joints_to_name(names: list[str] | tuple[str, ...]) -> list[str]:
    """The joints as a person reads them: AD's root sits on its hip (both the hips' midpoint), so listing both
    would name one spot twice."""
    return [n for n in names if not (n == "root" and "hip" in names)]


def _joint_scores(keypoints: np.ndarray) -> list[float]:
    """Per AD joint, the lowest score of the COCO keypoints it is built from."""
    return [float(np.min(keypoints[list(src), 2])) for _, _, src in AD_SKELETON]


def joint_overlay(annotation: Annotation) -> np.ndarray:
    """(h, w, 3) RGB picture of the crop with the skeleton drawn on it, like AD's joint_overlay.png."""
    character = annotation.character
    picture = np.ascontiguousarray(character.texture[:, :, :3].copy())
    picture[character.mask == 0] = (picture[character.mask == 0] * 0.5 + 127).astype(np.uint8)
    for j, p in enumerate(character.parents):
        if p >= 0:
            a, b = (tuple(int(v) for v in character.rest[i]) for i in (p, j))
            cv2.line(picture, a, b, (30, 30, 30), 2, cv2.LINE_AA)
    for name, (x, y) in zip(character.names, character.rest):
        colour = (220, 40, 40) if name.startswith("right") else (40, 90, 220) if name.startswith("left") \
            else (40, 160, 60)
        cv2.circle(picture, (int(x), int(y)), 4, colour, -1, cv2.LINE_AA)
    return picture


OVERLAY = "joint_overlay.png"


class OutputFolderError(ValueError):
    """The character folder cannot be written where asked without destroying something."""


def check_output_folder(image_path: str | Path, folder: str | Path, force: bool = False) -> None:
    """Refuse, before any work, to write a character folder over the input image, over a file, or (unless
    ``force``) over a character that is already there: its char_cfg.yaml may hold joints fixed by hand."""
    from studio.pipeline.character import BOUNDING_BOX, CHAR_CFG, IMAGE, MASK, TEXTURE

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{folder} is a file: give a folder for the character")
    above = next((p for p in folder.absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise OutputFolderError(f"{above} is a file, not a directory: choose another output folder (-o)")
    written = {(folder / name).resolve() for name in (CHAR_CFG, TEXTURE, MASK, BOUNDING_BOX, IMAGE, OVERLAY)}
    if Path(image_path).resolve() in written:
        raise OutputFolderError(f"{image_path} is one of the files annotate writes in {folder}: choose another "
                                "output folder (-o), or the drawing would be overwritten")
    if not force and (folder / CHAR_CFG).exists():
        raise OutputFolderError(f"{folder} already holds a character ({CHAR_CFG}, perhaps fixed by hand): "
                                "pass --force to replace it, or choose another folder")


def write_annotation(annotation: Annotation, folder: str | Path) -> Path:
    """The AD character folder: char_cfg.yaml, texture.png, mask.png, bounding_box.yaml, image.png and
    joint_overlay.png. A new folder appears whole or not at all; into a folder that is already there (a character
    replaced with --force, or the current folder) each file is replaced atomically, and other files are left alone."""
    from studio.pipeline.files.atomic import atomic_write_dir

    folder = Path(folder)
    if folder.exists():
        _write_files(annotation, folder)
    else:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write_dir(folder) as staging:
            _write_files(annotation, staging)
    return folder


def _write_files(annotation: Annotation, folder: Path) -> None:
    from studio.pipeline.character import write_character
    from studio.pipeline.files.atomic import atomic_write_path

    write_character(annotation.character, folder, image=annotation.image.rgb)
    ok, data = cv2.imencode(".png", cv2.cvtColor(joint_overlay(annotation), cv2.COLOR_RGB2BGR))
    with atomic_write_path(folder / OVERLAY) as tmp:
        tmp.write_bytes(data.tobytes())
