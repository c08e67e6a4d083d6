"""Evaluate a pose backend on drawn figures: mean joint error (% of figure height), PCK@5% / PCK@10%, the worst
joint, and whether the unsure-joint rings fall where the rig is wrong.

    .venv/bin/python training/evaluate.py --backend embedded [--checkpoint WEIGHTS.pt] [--synthetic 200 --seed 7]
    .venv/bin/python training/evaluate.py --backend embedded --checkpoint .train/held-out/pose_embedded.pt --ablation
    .venv/bin/python training/evaluate.py --backend manual [--overlay DIR] [--json OUT] [--verbose]
    .venv/bin/python training/evaluate.py --backend torch --checkpoint best_AP_epoch_72.pth

Sets, in one table:
- real bipeds: AD character folders in ../shared/data/characters whose joints are exactly AD's 16 (char2 there:
  it shaped the generator's skirts, so it is not a blind test). The image is image.png in AD's frame (longest side
  scaled to 1000 px, the frame bounding_box.yaml is written in), or, without image.png, texture.png on white with
  the box the whole texture. Ground truth is char_cfg.yaml's crop coordinates plus the box's corner; figure height
  is the height of the mask's bounding box.
- hand-annotated drawings: each ``*_joints.json`` in --annotations (tests/data: garlic.png, annotated once by the
  rules in training/ANNOTATION.md before the generator's changes were measured on it): its joints, figure box
  (given to the backend) and figure height (that box's height).
- real non-bipeds ("graceful failure"): the other characters (six arms, four legs), scored only on the AD joint
  names they share; reported apart, never in the headline.
- synthetic in-style and out-of-style (leave-style-out): ``--synthetic N`` figures of the families the held-out
  model trained on, and N / 2 of each held-out family (training.figures.HELD_OUT: a style, a tool, a kind of
  clothes and a paper) that it never saw; figure i from ``default_rng([seed, set, i])``, never one of train.py's
  integer seeds; figure height = box height. Only a model trained with ``train.py --families in-style`` makes
  the out-of-style sets out of style; for the shipped model (trained on every family) they are not.

The backend gets the drawing's own box (so only the pose is measured) and returns 17 COCO keypoints, compared
in AD's 16-joint space (coco_to_ad). ``--refine`` applies the mask-aware refinement steps named (or "none"): the
studio's own path. A joint is ringed (unsure) when its score is below UNSURE_SCORE; ring recall is the share of
joints more than 8 % off that are ringed, ring precision the share of ringed joints that are more than 8 % off.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from studio.pipeline.character import read_character  # noqa: E402
from studio.pipeline.intake.images import read_image  # noqa: E402
from studio.pipeline.pose.backend import (AD_SKELETON, UNSURE_SCORE, BackendError, Box, PoseBackend,  # noqa: E402
                                          coco_to_ad)

DATA = ROOT.parent / "shared" / "data"
ANNOTATIONS = ROOT / "tests" / "data"
AD_NAMES = tuple(name for name, _, _ in AD_SKELETON)
AD_PARENTS = tuple(-1 if p is None else AD_NAMES.index(p) for _, p, _ in AD_SKELETON)
AD_FRAME = 1000  # AD writes bounding_box.yaml in the image scaled to this longest side
THRESHOLDS = (0.05, 0.10)
FAR = 0.08  # a joint this far off (share of figure height) should be ringed
HEIGHT_NOTE = ("figure height = height of the mask's bounding box (character folders), of the annotated figure box "
               "(hand annotations), of the box (synthetic)")


def normalized_errors(pred: np.ndarray, gt: np.ndarray, height: float) -> np.ndarray:
    """(J,) distances between predicted and true joints (J, 2), as fractions of the figure height."""
    return np.linalg.norm(np.asarray(pred, float) - np.asarray(gt, float), axis=-1) / float(height)


def mean_error_percent(errors: np.ndarray) -> float:
    """Mean of normalized errors, in % of figure height (nan when there are none)."""
    return float(100 * np.mean(errors)) if np.size(errors) else float("nan")


def pck(errors: np.ndarray, threshold: float) -> float:
    """Share of joints whose normalized error is at most ``threshold`` (nan when there are none)."""
    return float(np.mean(np.asarray(errors) <= threshold)) if np.size(errors) else float("nan")


def summarize(errors: np.ndarray) -> dict[str, float]:
    return {"mean_error_percent": mean_error_percent(errors),
            **{f"pck@{t:.2f}": pck(errors, t) for t in THRESHOLDS}}


def ring_scores(errors: np.ndarray, unsure: np.ndarray, far: float = FAR) -> dict[str, float]:
    """Whether the rings mean something: recall (share of joints more than ``far`` off that are ringed), precision
    (share of ringed joints that are more than ``far`` off), the counts, and the worst joint (% of height)."""
    errors, unsure = np.asarray(errors, float), np.asarray(unsure, bool)
    off = errors > far
    return {"worst_percent": float(100 * errors.max()) if errors.size else float("nan"),
            "far_joints": int(off.sum()), "ringed": int(unsure.sum()),
            "ring_recall": float((off & unsure).sum() / off.sum()) if off.any() else float("nan"),
            "ring_precision": float((off & unsure).sum() / unsure.sum()) if unsure.any() else float("nan")}


@dataclass
class Sample:
    """One drawing: RGB image, the box the backend gets, figure height (px) and ground-truth joints.
    names/gt: AD joints only; skeleton: the full ground truth (names, parents, (J, 2) px) for overlays."""

    name: str
    image: np.ndarray
    box: Box
    height: float
    names: tuple[str, ...]
    gt: np.ndarray
    skeleton: tuple[tuple[str, ...], tuple[int, ...], np.ndarray] | None = None


def ad_frame(rgb: np.ndarray) -> np.ndarray:
    """The image scaled so its longest side is AD_FRAME px (up or down), as AD's bounding boxes expect."""
    h, w = rgb.shape[:2]
    s = AD_FRAME / max(h, w)
    size = (round(w * s), round(h * s))
    return rgb if s == 1 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def load_character(folder: Path) -> tuple[Sample, bool]:
    """A character folder as a Sample, and whether it is a biped (exactly AD's 16 joint names)."""
    ch = read_character(folder)
    if (folder / "image.png").is_file() and ch.bounding_box is not None:
        image = ad_frame(read_image(folder / "image.png", max_side=AD_FRAME).rgb)
        left, top, right, bottom = (float(v) for v in ch.bounding_box)
        box: Box = (left, top, right, bottom)
        h, w = image.shape[:2]
        if box[2] > w or box[3] > h or (box[2] - box[0], box[3] - box[1]) != (ch.width, ch.height):
            raise ValueError(f"{folder}: box {box} does not fit a {w}×{h} AD frame and a {ch.width}×{ch.height} "
                             "texture")
    else:  # texture.png on white, box = the whole texture (char2 has no image.png)
        alpha = ch.mask[:, :, None] / 255.0
        image = (ch.texture[:, :, :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
        box = (0.0, 0.0, float(ch.width), float(ch.height))
    rows = np.nonzero(ch.mask.any(axis=1))[0]
    locs = ch.rest + np.array(box[:2])
    keep = [i for i, n in enumerate(ch.names) if n in AD_NAMES]
    sample = Sample(folder.name, image, box, float(rows[-1] - rows[0] + 1), tuple(ch.names[i] for i in keep),
                    locs[keep], (ch.names, ch.parents, locs))
    return sample, set(ch.names) == set(AD_NAMES) and len(ch.names) == len(AD_NAMES)


def load_annotation(path: Path, data: Path) -> Sample:
    """A hand annotation (``*_joints.json``, training/ANNOTATION.md) of a drawing in ``data`` as a Sample."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    image = read_image(data / spec["image"], max_side=AD_FRAME).rgb
    if list(image.shape[1::-1]) != list(spec["size"]):
        raise ValueError(f"{path.name}: annotated in a {spec['size'][0]}×{spec['size'][1]} frame, but "
                         f"{spec['image']} reads as {image.shape[1]}×{image.shape[0]}")
    box = tuple(float(v) for v in spec["figure_box"])
    names = tuple(n for n in AD_NAMES if n in spec["joints"])
    gt = np.array([spec["joints"][n] for n in names], float)
    parents = tuple(names.index(p) if p in names else -1 for p in (AD_SKELETON[AD_NAMES.index(n)][1] for n in names))
    return Sample(Path(spec["image"]).stem, image, box, box[3] - box[1], names, gt,  # type: ignore[arg-type]
                  (names, parents, gt))


def load_synthetic(n: int, seed: int, families: Any = None, part: int = 0, size: int = 256) -> list[Sample]:
    """n generated figures of ``families`` (training.figures.Families; default all), figure i from
    ``default_rng([seed, part, i])``; raises ModuleNotFoundError when training.figures does not exist."""
    from training.figures import ALL, generate

    samples = []
    for i in range(n):
        f = generate(np.random.default_rng([seed, part, i]), size, families or ALL)
        kp = np.asarray(f.keypoints, float)
        _, _, ad = coco_to_ad(kp)
        visible = [j for j, (_, _, src) in enumerate(AD_SKELETON) if kp.shape[1] < 3 or (kp[list(src), 2] > 0).all()]
        b = tuple(float(v) for v in f.box)
        samples.append(Sample(f"synthetic-{part}-{i}", np.asarray(f.image), b, b[3] - b[1],  # type: ignore[arg-type]
                              tuple(AD_NAMES[j] for j in visible), ad[visible]))
    return samples


def synthetic_sets(n: int, seed: int) -> dict[str, tuple[str, list[Sample]]]:
    """The leave-style-out sets: in-style (n figures), then n // 2 of each held-out family, then all of those."""
    from training.figures import HELD_OUT, IN_STYLE, out_of_style

    sets = {"synthetic_in_style": (f"synthetic in-style (N={n}, seed {seed})", load_synthetic(n, seed, IN_STYLE))}
    every: list[Sample] = []
    for part, (axis, option) in enumerate(HELD_OUT.items(), start=1):
        samples = load_synthetic(max(1, n // 2), seed, out_of_style(axis), part)
        sets[f"synthetic_out_{option}"] = (f"  out of style: {axis} {option} (N={len(samples)})", samples)
        every += samples
    sets["synthetic_out_of_style"] = (f"synthetic out-of-style, all held-out families (N={len(every)})", every)
    return sets


def predict(backend: PoseBackend, image: np.ndarray, box: Box, refine: tuple[str, ...] | None = None) -> np.ndarray:
    """(17, 3) COCO keypoints [x, y, score] in image px for the figure in ``box``, refined on the figure's mask by
    the steps named in ``refine`` (None: as the backend gives them)."""
    keypoints = np.asarray(backend.pose(image, box).keypoints, float)
    if refine:
        from studio.pipeline.pose.refine import refine_in_image

        keypoints = refine_in_image(keypoints, image, box, refine)
    return keypoints


def predict_ad(backend: PoseBackend, image: np.ndarray, box: Box) -> np.ndarray:
    """(16, 2) AD joints in image px predicted by the backend for the figure in ``box``."""
    return coco_to_ad(predict(backend, image, box))[2]


def joint_scores(keypoints: np.ndarray) -> np.ndarray:
    """(16,) AD joint scores: the lowest score of the COCO keypoints each is made from (as the studio rings them)."""
    return np.array([float(np.min(keypoints[list(src), 2])) for _, _, src in AD_SKELETON])


def evaluate(backend: PoseBackend, samples: Sequence[Sample],
             refine: tuple[str, ...] | None = None) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Numbers for one set (overall over all joints, per joint, per drawing, rings) and each (16, 2) prediction."""
    return score(samples, [predict(backend, s.image, s.box, refine) for s in samples])


def score(samples: Sequence[Sample], predictions: Sequence[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
    """evaluate's numbers for (17, 3) COCO predictions [x, y, score] of each sample, and the (16, 2) AD joints."""
    drawings: list[dict[str, Any]] = []
    preds, errors, rings = [], [], []
    for s, keypoints in zip(samples, predictions):
        pred = coco_to_ad(keypoints)[2]
        index = [AD_NAMES.index(n) for n in s.names]
        err = normalized_errors(pred[index], s.gt, s.height)
        scores = joint_scores(keypoints)[index]
        unsure = (scores > 0) & (scores < UNSURE_SCORE)
        drawings.append({"name": s.name, "joints": len(s.names), "height_px": s.height, **summarize(err),
                         **ring_scores(err, unsure),
                         "errors_percent": {n: float(100 * e) for n, e in zip(s.names, err)},
                         "ringed_joints": [n for n, u in zip(s.names, unsure) if u]})
        preds.append(pred)
        errors.append(err)
        rings.append(unsure)
    per_joint = {n: [d["errors_percent"][n] for d in drawings if n in d["errors_percent"]] for n in AD_NAMES}
    every = np.concatenate(errors) if errors else np.zeros(0)
    ringed = np.concatenate(rings) if rings else np.zeros(0, bool)
    return {"drawings": len(drawings), "joints": int(every.size), **summarize(every), **ring_scores(every, ringed),
            "per_joint_percent": {n: float(np.mean(v)) for n, v in per_joint.items() if v},
            "per_drawing": drawings}, preds


def draw_skeleton(img: np.ndarray, locs: np.ndarray, parents: Sequence[int], names: Sequence[str],
                  truth: bool, s: float) -> None:
    pts = [(int(round(x * s)), int(round(y * s))) for x, y in locs]
    for j, p in enumerate(parents):
        if p >= 0:
            cv2.line(img, pts[p], pts[j], (0, 170, 0) if truth else (40, 40, 40), 1 if truth else 2, cv2.LINE_AA)
    for name, pt in zip(names, pts):
        if truth:
            cv2.circle(img, pt, 7, (0, 170, 0), 2, cv2.LINE_AA)
        else:
            colour = {"right": (220, 40, 40), "left": (40, 90, 220)}.get(name.split("_")[0], (230, 140, 0))
            cv2.circle(img, pt, 5, colour, -1, cv2.LINE_AA)


def overlay(image: np.ndarray, box: Box, pred: np.ndarray, truth: Sample | None, title: str) -> np.ndarray:
    """RGB picture around the box: the prediction (dots by side: red right, blue left, orange centre; dark
    bones) and, when known, the ground truth (green rings and thin bones), with lines joining each pair."""
    points = pred if truth is None or truth.skeleton is None else np.vstack([pred, truth.skeleton[2]])
    lo = np.minimum(np.array(box[:2]), points.min(axis=0))
    hi = np.maximum(np.array(box[2:]), points.max(axis=0))
    pad = 0.08 * (hi - lo)
    h, w = image.shape[:2]
    x0, y0 = (int(v) for v in np.maximum(0, np.floor(lo - pad)))
    x1, y1 = int(min(w, np.ceil(hi[0] + pad[0]))), int(min(h, np.ceil(hi[1] + pad[1])))
    s = max(1.0, 600 / max(1, y1 - y0))
    crop = image[y0:y1, x0:x1]
    img = np.ascontiguousarray(cv2.resize(crop, (round(crop.shape[1] * s), round(crop.shape[0] * s))))
    shift = np.array([x0, y0])
    if truth is not None and truth.skeleton is not None:
        names, parents, locs = truth.skeleton
        draw_skeleton(img, locs - shift, parents, names, True, s)
        for n, g in zip(truth.names, truth.gt):
            a, b = ((g - shift) * s).round().astype(int), ((pred[AD_NAMES.index(n)] - shift) * s).round().astype(int)
            cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (200, 0, 200), 1, cv2.LINE_AA)
    draw_skeleton(img, pred - shift, AD_PARENTS, AD_NAMES, False, s)
    cv2.putText(img, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2, cv2.LINE_AA)
    return img


def make(name: str, checkpoint: str | None, endpoint: str | None, **options: Any) -> PoseBackend:
    """The backend to measure; ``options`` (flip, limbs, taylor, scales) are the embedded model's decoding
    switches."""
    if name == "embedded":
        try:
            from studio.pipeline.pose.embedded import EmbeddedBackend
        except ImportError as exc:
            raise BackendError(f"the embedded backend is not available: studio.pipeline.pose.embedded.EmbeddedBackend "
                               f"cannot be imported ({exc})") from None
        return EmbeddedBackend(checkpoint, **options)  # type: ignore[no-any-return]
    from studio.core.annotate import make_backend

    return make_backend(name, endpoint=endpoint, checkpoint=checkpoint)


def ablation(checkpoint: str | None, sets: dict[str, list[Sample]],
             refine: tuple[str, ...] | None) -> dict[str, dict[str, dict[str, Any]]]:
    """Each embedded decoding choice on each set, added one at a time from mmpose's plain decoding (argmax and a
    quarter px step) to the studio's (flip test, limb-aware peaks, Taylor sub-px peaks, two box scales), refined as
    the studio does: {choice: {set: summary}}."""
    one: tuple[float, ...] = (1.0,)
    choices: dict[str, dict[str, Any]] = {
        "argmax, quarter px": {"flip": False, "limbs": False, "taylor": False, "scales": one},
        "+ flip test": {"flip": True, "limbs": False, "taylor": False, "scales": one},
        "+ limb-aware peaks": {"flip": True, "limbs": True, "taylor": False, "scales": one},
        "+ Taylor sub-px peaks": {"flip": True, "limbs": True, "taylor": True, "scales": one},
        "+ two box scales (the studio's)": {"flip": True, "limbs": True, "taylor": True}}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for choice, options in choices.items():
        backend = make("embedded", checkpoint, None, **options)
        out[choice] = {key: evaluate(backend, samples, refine)[0] for key, samples in sets.items()}
    return out


def refinement_variants() -> dict[str, tuple[tuple[str, ...], float]]:
    """The refinement ablation, {name: (steps, inside's reach)}: none, keeping joints inside the mask from any
    distance and from the studio's reach (refine.INSIDE_REACH), each other step on top of that, and all of them."""
    from studio.pipeline.pose.refine import INSIDE_REACH, STEPS

    variants = {"none": ((), INSIDE_REACH), "inside, from any distance": (("inside",), np.inf),
                f"inside, from {INSIDE_REACH:g} of the figure": (("inside",), INSIDE_REACH)}
    for step in STEPS:
        if step != "inside":
            variants[f"inside + {step}"] = (("inside", step), INSIDE_REACH)
    variants["all"] = (tuple(STEPS), INSIDE_REACH)
    return variants


def refinement_ablation(backend: PoseBackend, sets: dict[str, list[Sample]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{variant: {set: summary}} for each refinement variant, from one pose per drawing."""
    from studio.pipeline.pose.refine import refine_in_image

    raw = {key: [np.asarray(backend.pose(s.image, s.box).keypoints, float) for s in samples]
           for key, samples in sets.items()}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, (steps, reach) in refinement_variants().items():
        out[name] = {key: score(samples, [refine_in_image(k, s.image, s.box, steps, reach) if steps else k
                                          for s, k in zip(samples, raw[key])])[0]
                     for key, samples in sets.items()}
    return out


def plain(value: Any) -> Any:
    """JSON-ready: numpy numbers as Python ones, nan as None."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if value != value else float(value)
    return value.item() if isinstance(value, np.generic) else value


def fmt(v: float, digits: int) -> str:
    return "—" if v != v else f"{v:.{digits}f}"


def studio_refinement() -> tuple[str, ...]:
    """The refinement steps the studio applies after the network (refine.REFINE_STEPS)."""
    from studio.pipeline.pose.refine import REFINE_STEPS

    return tuple(REFINE_STEPS)


def parse_refine(text: str | None) -> tuple[str, ...]:
    """--refine: "studio" (what the studio does), "none", or a comma-separated list of refine.STEPS."""
    if text is None or text == "studio":
        return studio_refinement()
    if text == "none":
        return ()
    from studio.pipeline.pose.refine import STEPS

    steps = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in steps if t not in STEPS]
    if unknown:
        raise ValueError(f"unknown refinement step {', '.join(unknown)}: choose from {', '.join(STEPS)}, or none")
    return steps


ROW = f"{'set':<58}{'drawings':>9}{'joints':>7}{'mean err %':>11}{'PCK@5%':>8}{'PCK@10%':>9}{'worst %':>9}" \
      f"{'ring recall':>12}{'precision':>10}"


def row(label: str, r: dict[str, Any]) -> str:
    recall = f"{fmt(r['ring_recall'], 2)} ({r['far_joints']})"
    return (f"{label:<58}{r['drawings']:>9}{r['joints']:>7}{fmt(r['mean_error_percent'], 2):>11}"
            f"{fmt(r['pck@0.05'], 3):>8}{fmt(r['pck@0.10'], 3):>9}{fmt(r['worst_percent'], 1):>9}{recall:>12}"
            f"{fmt(r['ring_precision'], 2):>10}")


def load_real(data: Path, annotations: Path, skipped: dict[str, str]) -> dict[str, tuple[str, list[Sample]]]:
    """The real sets: biped character folders, hand-annotated drawings, non-biped character folders."""
    bipeds: list[Sample] = []
    others: list[Sample] = []
    annotated: list[Sample] = []
    chars = data / "characters"
    for folder in sorted(p for p in chars.glob("*") if (p / "char_cfg.yaml").is_file()):
        try:
            sample, biped = load_character(folder)
        except ValueError as exc:  # CharacterError included: a broken folder is reported, not fatal
            skipped[folder.name] = str(exc)
            continue
        (bipeds if biped else others).append(sample)
    for path in sorted(annotations.glob("*_joints.json")):
        try:
            annotated.append(load_annotation(path, data))
        except (OSError, ValueError, KeyError) as exc:
            skipped[path.name] = str(exc)
    if not bipeds and not others:
        skipped["real"] = f"no character folders in {chars}"
    return {"real_bipeds": ("real bipeds, character folders (char2: seen)", bipeds),
            "real_annotated": ("real drawings, hand-annotated (garlic: blind)", annotated),
            "real_non_bipeds": ("real non-bipeds (graceful failure, shared AD joints)", others)}


SHORT = {"real_bipeds": "char folders", "real_annotated": "hand-annotated", "synthetic_in_style": "in-style",
         "synthetic_out_of_style": "out-of-style"}


def per_joint_table(title: str, by_variant: dict[str, dict[str, Any]]) -> None:
    """Per-joint mean error (% of height) of each variant (or set) in columns."""
    widths = [max(22, len(SHORT.get(k, k)) + 2) for k in by_variant]  # a long variant name keeps a gap
    print(f"\n{title}")
    print(f"{'joint':<16}" + "".join(f"{SHORT.get(k, k):>{w}}" for k, w in zip(by_variant, widths)))
    for n in AD_NAMES:
        cells = (fmt(r["per_joint_percent"].get(n, float("nan")), 2) for r in by_variant.values())
        print(f"{n:<16}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))


def variants_table(title: str, by_variant: dict[str, dict[str, dict[str, Any]]], sets: Iterable[str]) -> None:
    """One row per variant (decoding choice or refinement), one column of error, PCK@5% and worst joint per set."""
    sets = list(sets)
    print(f"\n{title:<41}" + "".join(f"{SHORT[k]:>26}" for k in sets))
    for variant, by_set in by_variant.items():
        print(f"{variant:<41}" + "".join(
            f"{fmt(r['mean_error_percent'], 2):>10}% {fmt(r['pck@0.05'], 3):>6} {fmt(r['worst_percent'], 1):>7}"
            for r in by_set.values()))
    print(f"{'':<41}" + "".join(f"{'err, PCK@5%, worst %':>26}" for _ in sets))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--backend", default="manual", choices=("manual", "embedded", "torch", "mm", "torchserve"))
    ap.add_argument("--checkpoint", help="weights for embedded (optional), torch and mm")
    ap.add_argument("--endpoint", help="TorchServe base URL for --backend torchserve")
    ap.add_argument("--data", type=Path, default=DATA, help="shared data folder (characters/, drawings/)")
    ap.add_argument("--annotations", type=Path, default=ANNOTATIONS,
                    help="folder of hand annotations (*_joints.json) of drawings in --data")
    ap.add_argument("--synthetic", type=int, default=200, metavar="N",
                    help="in-style generated figures, and N/2 of each held-out family (0: none)")
    ap.add_argument("--seed", type=int, default=7, help="seed of the synthetic sets")
    ap.add_argument("--refine", metavar="STEPS",
                    help="mask-aware refinement after the network: studio (default: what the studio does), none, "
                         "or a comma-separated list of inside, extremities, centreline, hips")
    ap.add_argument("--verbose", action="store_true", help="one row per drawing")
    ap.add_argument("--json", type=Path, metavar="OUT", help="write all numbers here")
    ap.add_argument("--overlay", type=Path, metavar="DIR", help="write overlays of the real drawings here")
    ap.add_argument("--ablation", action="store_true",
                    help="embedded only: also measure each decoding choice (flip test, limb-aware peaks) and each "
                         "refinement step on and off")
    args = ap.parse_args(argv)
    try:
        refine = parse_refine(args.refine)
        backend = make(args.backend, args.checkpoint, args.endpoint)
    except (BackendError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    skipped: dict[str, str] = {}
    sets = load_real(args.data, args.annotations, skipped)
    if args.synthetic > 0:
        try:
            sets.update(synthetic_sets(args.synthetic, args.seed))
        except ModuleNotFoundError as exc:
            if exc.name not in ("training", "training.figures"):
                raise
            skipped["synthetic"] = "training.figures is not importable"
    else:
        skipped["synthetic"] = "not requested (--synthetic 0)"

    results: dict[str, Any] = {}
    preds: dict[str, list[np.ndarray]] = {}
    try:
        for key, (_, samples) in sets.items():
            if samples:
                results[key], preds[key] = evaluate(backend, samples, refine)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    print(f"Pose evaluation, backend {backend.name}" + (f" ({args.checkpoint})" if args.checkpoint else "")
          + f", refinement: {' + '.join(refine) or 'none'}")
    print(f"{HEIGHT_NOTE}; errors in AD's 16-joint space; ring recall: share of joints more than {100 * FAR:.0f} % "
          "off that are ringed unsure (how many such joints); precision: share of ringed joints that are that far off")
    baseline: dict[str, Any] = {}
    if args.backend != "manual":  # the bar to clear: a fixed average skeleton stretched to the box
        manual = make("manual", None, None)
        baseline = {key: evaluate(manual, samples)[0] for key, (_, samples) in sets.items()
                    if key in results and not key.startswith("synthetic_out_") or key == "synthetic_out_of_style"}
    print("\n" + ROW)
    for key, (label, _) in sets.items():
        if key in results:
            print(row(label, results[key]))
        if key in baseline:
            print(row("  fixed-skeleton baseline (--backend manual)", baseline[key]))
    for key, why in skipped.items():
        print(f"{key + ' set':<58}skipped: {why}")
    if args.verbose:
        print(f"\n{'drawing':<30}{'set':<26}{'joints':>7}{'height px':>10}{'mean err %':>11}{'PCK@5%':>8}"
              f"{'PCK@10%':>9}{'worst %':>9}")
        for key, r in results.items():
            for d in r["per_drawing"] if not key.startswith("synthetic") else ():
                print(f"{d['name']:<30}{key:<26}{d['joints']:>7}{d['height_px']:>10.0f}"
                      f"{fmt(d['mean_error_percent'], 2):>11}{fmt(d['pck@0.05'], 3):>8}{fmt(d['pck@0.10'], 3):>9}"
                      f"{fmt(d['worst_percent'], 1):>9}")
    shown: list[str] = [k for k in ("real_bipeds", "real_annotated", "synthetic_in_style", "synthetic_out_of_style")
                        if k in results]
    per_joint_table("per-joint mean error, % of figure height", {k: results[k] for k in shown})

    ablations: dict[str, Any] = {}
    if args.ablation and args.backend == "embedded":
        chosen = {key: sets[key][1] for key in shown}
        by_choice = ablation(args.checkpoint, chosen, refine)
        variants_table("decoding choices (embedded)", by_choice, chosen)
        by_variant = refinement_ablation(backend, chosen)
        variants_table("refinement after the network", by_variant, chosen)
        for key in ("synthetic_out_of_style", "real_annotated", "real_bipeds"):
            if key in chosen:
                per_joint_table(f"refinement by joint, {sets[key][0].strip()}: mean error %",
                                {v: by_set[key] for v, by_set in by_variant.items()})
        ablations = {"decoding": by_choice, "refinement": by_variant}

    if args.overlay:
        pictures: dict[str, np.ndarray] = {}
        for key in ("real_bipeds", "real_annotated", "real_non_bipeds"):
            for s, pred, d in zip(sets[key][1], preds.get(key, []), results.get(key, {}).get("per_drawing", [])):
                title = f"{s.name} {backend.name}: {fmt(d['mean_error_percent'], 1)}% PCK@10 {fmt(d['pck@0.10'], 2)}"
                pictures[s.name] = overlay(s.image, s.box, pred, s, title)
        args.overlay.mkdir(parents=True, exist_ok=True)
        for name, picture in pictures.items():
            cv2.imwrite(str(args.overlay / f"{name}_{backend.name}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        print(f"\noverlays written to {args.overlay}")
    if args.json:
        report = {"backend": backend.name, "checkpoint": args.checkpoint, "refinement": list(refine),
                  "figure_height": HEIGHT_NOTE, "sets": results, "fixed_skeleton_baseline": baseline,
                  "ablation": ablations, "skipped": skipped}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(plain(report), indent=1, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
