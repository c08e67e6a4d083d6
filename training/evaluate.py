"""Evaluate a pose backend on drawn figures: mean joint error (% of figure height) and PCK@5% / PCK@10%.

    .venv/bin/python training/evaluate.py --backend manual [--overlay DIR] [--json OUT] [--verbose]
    .venv/bin/python training/evaluate.py --backend embedded [--checkpoint WEIGHTS.pt] [--synthetic 200 --seed 7]
    .venv/bin/python training/evaluate.py --backend torch --checkpoint best_AP_epoch_72.pth

Sets:
- real bipeds (the headline): AD character folders in ../shared/data/characters whose joints are exactly
  AD's 16. The image is image.png in AD's frame (longest side scaled to 1000 px, the frame bounding_box.yaml
  is written in; char6's 600 px image is scaled up by 1000/600), or, without image.png, texture.png on white
  with the box the whole texture. Ground truth is char_cfg.yaml's crop coordinates plus the box's corner.
- real non-bipeds ("graceful failure"): the other characters (six arms, four legs), scored only on the AD
  joint names they share; reported apart, never in the headline.
- synthetic held-out: ``--synthetic N`` figures from training.figures.make_figure, each from
  ``default_rng([seed, i])`` (never one of train.py's integer seeds); figure height = box height.

The backend gets the drawing's own box (so only the pose is measured) and returns 17 COCO keypoints, compared
in AD's 16-joint space (coco_to_ad) with no snapping onto the mask. Figure height is the height of the mask's
bounding box (mask.png) in image px. PCK@t is the share of joints within t × that height.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from studio.pipeline.intake.box import find_figure_box  # noqa: E402
from studio.pipeline.character import read_character  # noqa: E402
from studio.pipeline.intake.images import read_image  # noqa: E402
from studio.pipeline.pose.backend import AD_SKELETON, BackendError, Box, PoseBackend, coco_to_ad  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
AD_NAMES = tuple(name for name, _, _ in AD_SKELETON)
AD_PARENTS = tuple(-1 if p is None else AD_NAMES.index(p) for _, p, _ in AD_SKELETON)
AD_FRAME = 1000  # AD writes bounding_box.yaml in the image scaled to this longest side
THRESHOLDS = (0.05, 0.10)
HEIGHT_NOTE = ("figure height = height of the mask's bounding box (mask.png) in image px (AD's 1000 px frame); "
               "synthetic: the box height")


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


def load_synthetic(n: int, seed: int, size: int = 256) -> list[Sample]:
    """n generated figures; raises ModuleNotFoundError when training.figures does not exist."""
    from training.figures import make_figure

    samples = []
    for i in range(n):
        image, keypoints, box = make_figure(np.random.default_rng([seed, i]), size)
        kp = np.asarray(keypoints, float)
        _, _, ad = coco_to_ad(kp)
        visible = [j for j, (_, _, src) in enumerate(AD_SKELETON) if kp.shape[1] < 3 or (kp[list(src), 2] > 0).all()]
        b = tuple(float(v) for v in box)
        samples.append(Sample(f"synthetic-{i}", np.asarray(image), b, b[3] - b[1],  # type: ignore[arg-type]
                              tuple(AD_NAMES[j] for j in visible), ad[visible]))
    return samples


def predict_ad(backend: PoseBackend, image: np.ndarray, box: Box) -> np.ndarray:
    """(16, 2) AD joints in image px predicted by the backend for the figure in ``box``."""
    return coco_to_ad(backend.pose(image, box).keypoints)[2]


def evaluate(backend: PoseBackend, samples: Sequence[Sample]) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Numbers for one set (overall over all joints, per joint, per drawing) and each (16, 2) prediction."""
    drawings: list[dict[str, Any]] = []
    preds, errors = [], []
    for s in samples:
        pred = predict_ad(backend, s.image, s.box)
        err = normalized_errors(pred[[AD_NAMES.index(n) for n in s.names]], s.gt, s.height)
        drawings.append({"name": s.name, "joints": len(s.names), "height_px": s.height, **summarize(err),
                         "errors_percent": {n: float(100 * e) for n, e in zip(s.names, err)}})
        preds.append(pred)
        errors.append(err)
    per_joint = {n: [d["errors_percent"][n] for d in drawings if n in d["errors_percent"]] for n in AD_NAMES}
    every = np.concatenate(errors) if errors else np.zeros(0)
    return {"drawings": len(drawings), "joints": int(every.size), **summarize(every),
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


def make(name: str, checkpoint: str | None, endpoint: str | None, **options: bool) -> PoseBackend:
    """The backend to measure; ``options`` (flip, limbs) are the embedded model's decoding switches."""
    if name == "embedded":
        try:
            from studio.pipeline.pose.embedded import EmbeddedBackend
        except ImportError as exc:
            raise BackendError(f"the embedded backend is not available: studio.pipeline.pose.embedded.EmbeddedBackend "
                               f"cannot be imported ({exc})") from None
        return EmbeddedBackend(checkpoint, **options)  # type: ignore[no-any-return]
    from studio.core.annotate import make_backend

    return make_backend(name, endpoint=endpoint, checkpoint=checkpoint)


def ablation(checkpoint: str | None, sets: dict[str, list[Sample]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each embedded decoding choice (flip test, limb-aware peaks) on each set: {choice: {set: summary}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for flip in (False, True):
        for limbs in (False, True):
            backend = make("embedded", checkpoint, None, flip=flip, limbs=limbs)
            choice = " + ".join(["argmax" if not limbs else "limb-aware peaks"] + (["flip test"] if flip else []))
            out[choice] = {key: evaluate(backend, samples)[0] for key, samples in sets.items()}
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


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--backend", default="manual", choices=("manual", "embedded", "torch", "mm", "torchserve"))
    ap.add_argument("--checkpoint", help="weights for embedded (optional), torch and mm")
    ap.add_argument("--endpoint", help="TorchServe base URL for --backend torchserve")
    ap.add_argument("--data", type=Path, default=DATA, help="shared data folder (characters/, drawings/)")
    ap.add_argument("--synthetic", type=int, default=200, metavar="N", help="held-out generated figures (0: none)")
    ap.add_argument("--seed", type=int, default=7, help="seed of the held-out synthetic set")
    ap.add_argument("--verbose", action="store_true", help="one row per drawing")
    ap.add_argument("--json", type=Path, metavar="OUT", help="write all numbers here")
    ap.add_argument("--overlay", type=Path, metavar="DIR", help="write overlays of the real drawings here")
    ap.add_argument("--ablation", action="store_true",
                    help="embedded only: also measure each decoding choice (flip test, limb-aware peaks) on and off")
    args = ap.parse_args(argv)
    try:
        backend = make(args.backend, args.checkpoint, args.endpoint)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    bipeds: list[Sample] = []
    others: list[Sample] = []
    skipped: dict[str, str] = {}
    chars = args.data / "characters"
    for folder in sorted(p for p in chars.glob("*") if (p / "char_cfg.yaml").is_file()):
        try:
            sample, biped = load_character(folder)
        except ValueError as exc:  # CharacterError included: a broken folder is reported, not fatal
            skipped[folder.name] = str(exc)
            continue
        (bipeds if biped else others).append(sample)
    sets: dict[str, tuple[str, list[Sample]]] = {
        "real_bipeds": ("real bipeds (headline)", bipeds),
        "real_non_bipeds": ("real non-bipeds (graceful failure, shared AD joints)", others)}
    if not bipeds and not others:
        skipped["real"] = f"no character folders in {chars}"
    if args.synthetic > 0:
        try:
            sets["synthetic"] = (f"synthetic held-out (N={args.synthetic}, seed {args.seed})",
                                 load_synthetic(args.synthetic, args.seed))
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
                results[key], preds[key] = evaluate(backend, samples)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    print(f"Pose evaluation, backend {backend.name}" + (f" ({args.checkpoint})" if args.checkpoint else ""))
    print(f"{HEIGHT_NOTE}; errors in AD's 16-joint space, no snapping to the mask")
    baseline: dict[str, Any] = {}
    if args.backend != "manual":  # the bar to clear: a fixed average skeleton stretched to the box
        manual = make("manual", None, None)
        baseline = {key: evaluate(manual, samples)[0] for key, (_, samples) in sets.items() if key in results}
    print(f"\n{'set':<54}{'drawings':>9}{'joints':>7}{'mean err %':>11}{'PCK@5%':>8}{'PCK@10%':>9}")
    for key, (label, _) in sets.items():
        rows = [(label, results.get(key)), ("  fixed-skeleton baseline (--backend manual)", baseline.get(key))]
        for text, r in rows:
            if r is not None:
                print(f"{text:<54}{r['drawings']:>9}{r['joints']:>7}{fmt(r['mean_error_percent'], 2):>11}"
                      f"{fmt(r['pck@0.05'], 3):>8}{fmt(r['pck@0.10'], 3):>9}")
    if args.ablation and args.backend == "embedded":
        results_by_choice = ablation(args.checkpoint, {key: sets[key][1] for key in results})
        print(f"\ndecoding choices (embedded){'':<14}" + "".join(f"{k:>24}" for k in results))
        for choice, by_set in results_by_choice.items():
            print(f"{choice:<41}" + "".join(
                f"{fmt(r['mean_error_percent'], 2):>10}% {fmt(r['pck@0.05'], 3):>6} {fmt(r['pck@0.10'], 3):>5}"
                for r in by_set.values()))
        print(f"{'':<41}" + "".join(f"{'err, PCK@5%, PCK@10%':>24}" for _ in results))
    for key, why in skipped.items():
        print(f"{key + ' set':<54}skipped: {why}")
    if args.verbose:
        print(f"\n{'drawing':<30}{'set':<18}{'joints':>7}{'height px':>10}{'mean err %':>11}{'PCK@5%':>8}"
              f"{'PCK@10%':>9}")
        for key, r in results.items():
            for d in r["per_drawing"]:
                print(f"{d['name']:<30}{key:<18}{d['joints']:>7}{d['height_px']:>10.0f}"
                      f"{fmt(d['mean_error_percent'], 2):>11}{fmt(d['pck@0.05'], 3):>8}{fmt(d['pck@0.10'], 3):>9}")
    print("\nper-joint mean error, % of figure height")
    print(f"{'joint':<16}" + "".join(f"{k:>17}" for k in results))
    for n in AD_NAMES:
        cells = (fmt(r["per_joint_percent"].get(n, float("nan")), 2) for r in results.values())
        print(f"{n:<16}" + "".join(f"{c:>17}" for c in cells))

    if args.overlay:
        pictures: dict[str, np.ndarray] = {}
        for key in ("real_bipeds", "real_non_bipeds"):
            for s, pred, d in zip(sets[key][1], preds.get(key, []), results.get(key, {}).get("per_drawing", [])):
                title = f"{s.name} {backend.name}: {fmt(d['mean_error_percent'], 1)}% PCK@10 {fmt(d['pck@0.10'], 2)}"
                pictures[s.name] = overlay(s.image, s.box, pred, s, title)
        garlic = args.data / "drawings" / "garlic.png"
        if garlic.is_file():
            rgb = read_image(garlic).rgb
            try:
                box = backend.detect(rgb)[0].box
            except (BackendError, IndexError):
                box = find_figure_box(rgb).box
            pred = predict_ad(backend, rgb, box)
            pictures["garlic"] = overlay(rgb, box, pred, None, f"garlic {backend.name}: no ground truth")
        args.overlay.mkdir(parents=True, exist_ok=True)
        for name, picture in pictures.items():
            cv2.imwrite(str(args.overlay / f"{name}_{backend.name}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        print(f"\noverlays written to {args.overlay}")
    if args.json:
        report = {"backend": backend.name, "checkpoint": args.checkpoint, "figure_height": HEIGHT_NOTE,
                  "sets": results, "fixed_skeleton_baseline": baseline, "skipped": skipped}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(plain(report), indent=1, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
