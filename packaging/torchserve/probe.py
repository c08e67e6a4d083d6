"""Readiness probe for the studio's TorchServe: a real prediction on the built-in drawing, not just /ping.

    python probe.py [--url http://127.0.0.1:8080] [--deadline 20] [--min-iou 0.5] [--ping-only]

It asks /ping, sends the studio's built-in sample drawing to the detector, then the crop of the best box to the pose
model, exactly as the studio's client does (studio.pipeline.pose.torchserve), and checks the replies with the
studio's own checks: a box that overlaps the drawn figure (``--min-iou`` of the figure's known box) and 17 finite
keypoints with scores in [0, 1] inside the box. It prints one line and exits 0 when the server can really answer,
1 when it cannot: so an mmcv without CUDA ops, a worker that died or a model that answers 500 keeps the pod out of
the Service instead of "Healthy" with every prediction failing.

The bearer token (when the server, or the auth proxy in front of it, wants one) comes from $STUDIO_TORCHSERVE_TOKEN,
never from the command line. No retries: the kubelet probes again. Needs the studio installed (its client and its
sample drawing); the images install it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

TOKEN_ENV = "STUDIO_TORCHSERVE_TOKEN"
EXIT_READY, EXIT_NOT_READY = 0, 1


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two boxes (left, top, right, bottom)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ping(url: str, token: str | None, deadline: float) -> str:
    """/ping only: raises unless it answers Healthy."""
    from studio.pipeline.pose.torchserve import TorchServeBackend

    TorchServeBackend(url, token=token, connect_timeout=min(3.0, deadline), deadline=deadline, retries=0).ping()
    return f"alive: {url} /ping Healthy"


def probe(url: str, detector: str, pose: str, token: str | None, deadline: float, min_iou: float) -> str:
    """One real prediction; returns what it saw. Raises (BackendError and others) with the reason it is not ready."""
    from studio.core.sample import sample_character, sample_image
    from studio.pipeline.pose.backend import BackendError, check_detections, check_keypoints
    from studio.pipeline.pose.torchserve import TorchServeBackend

    client = TorchServeBackend(url, detector, pose, token=token, connect_timeout=min(3.0, deadline),
                               deadline=deadline, retries=0)
    started = time.perf_counter()
    client.ping()
    image = sample_image()
    detections = client.detect(image)
    check_detections(detections, "torchserve")
    if not detections:
        raise BackendError(f"the detector {detector!r} found no figure in the built-in drawing")
    box = detections[0].box
    figure: tuple[float, float, float, float] = sample_character().bounding_box or (0, 0, *image.shape[1::-1])
    overlap = iou(box, figure)
    if overlap < min_iou:
        raise BackendError(f"the detector {detector!r} boxed {tuple(round(v) for v in box)}, off the drawn figure "
                           f"{tuple(round(v) for v in figure)} (IoU {overlap:.2f} < {min_iou:g}): broken weights?")
    result = client.pose(image, box)
    check_keypoints(result.keypoints, box, "torchserve")
    return (f"ready: {url} detector box IoU {overlap:.2f}, pose 17 keypoints, "
            f"{(time.perf_counter() - started) * 1000:.0f} ms")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="TorchServe inference URL")
    parser.add_argument("--detector-model", default="drawn_humanoid_detector")
    parser.add_argument("--pose-model", default="drawn_humanoid_pose_estimator")
    parser.add_argument("--deadline", type=float, default=20.0, help="seconds for each whole reply (default 20)")
    parser.add_argument("--ping-only", action="store_true",
                        help="only ask /ping (a liveness probe: is the server up, not can it predict)")
    parser.add_argument("--min-iou", type=float, default=0.5,
                        help="least overlap of the detected box with the drawn figure (default 0.5; 0 turns it off)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    token = os.environ.get(TOKEN_ENV) or None
    try:
        if args.ping_only:
            line = ping(args.url, token, args.deadline)
        else:
            line = probe(args.url, args.detector_model, args.pose_model, token, args.deadline, args.min_iou)
    except Exception as exc:  # noqa: BLE001 - a probe's whole answer is one line and an exit code
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"not ready: {message[:500]}", file=sys.stderr)
        return EXIT_NOT_READY
    print(line)
    return EXIT_READY


if __name__ == "__main__":
    sys.exit(main())
