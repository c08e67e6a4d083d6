"""The ``studio`` command line: render, motions, sample; one-line errors, tracebacks only with --verbose."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Iterator, Sequence

from studio import __version__
from studio.cli import batch as batch_cli
from studio.cli import scene as scene_cli
from studio.cli import arguments
from studio.cli.progress import TerminalProgress
from studio.cli.report import IMPORTANT_NOTES, print_notes, print_timings

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CANCELLED, EXIT_TERMINATED = 0, 1, 2, 130, 143
CLI_MESSAGE_LIMIT = 1000  # characters of an error line: whole paths, never a whole document quoted back


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description="Drawing Studio: bring a drawn character to life.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and extra detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = sub.add_parser("render", help="animate a character folder with a motion and export GIF/MP4/WebM/APNG, "
                                           "PNG frames or a sprite sheet")
    render.add_argument("character", help="AD character folder (char_cfg.yaml, texture.png, mask.png), or 'sample'")
    render.add_argument("--motion", "-m", required=True, action="append",
                        help="bundled motion NAME (see 'studio motions'), a FILE.bvh, or an AD MOTION_CFG.yaml; "
                             "with --sheet, repeat it to put several motions in one sheet, one tag each")
    render.add_argument("--retarget", "-r", help="AD retarget config .yaml (default: automatic mapping)")
    render.add_argument("--bvh", help="BVH file to use with a motion config whose filepath does not resolve")
    render.add_argument("--frames", "-n", type=arguments.positive,
                        help="resample the clip to N frames, keeping its duration")
    render.add_argument("--size", "-s", type=arguments.size, default=(500, 500),
                        help="output size: S or WxH (default 500)")
    render.add_argument("--background", "-b", default="transparent",
                        help="'transparent', a colour ('white', '#ffcc00') or an image file")
    render.add_argument("--camera", choices=("ad", "fit"), default="ad",
                        help="'ad': AnimatedDrawings' framing, kept in frame (default); 'fit': fill the canvas")
    render.add_argument("--dump-rig", metavar="FILE.json", help="also write the per-frame rig (ad_ref_v1 format)")
    render.add_argument("--output", "-o", required=True,
                        help="OUT.gif, OUT.mp4, OUT.webm (VP9 with alpha), OUT.apng, OUT.png with --sheet, or a folder "
                             "for PNG frames")
    render.add_argument("--sheet", action="store_true",
                        help="write a sprite sheet: OUT.png holding every frame, and OUT.json (TexturePacker/Aseprite "
                             "hash: frames, durations, a tag per motion)")
    render.add_argument("--packed", action="store_true",
                        help="with --sheet: trim each frame's transparent margins and pack them tightly")
    render.add_argument("--force", action="store_true", help="replace an output even when it is read-only")
    render.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    backends = ("auto", "embedded", "manual", "torchserve", "torch", "mm")
    annotate = sub.add_parser("annotate", help="annotate a drawing: box, mask and joints → an AD character folder")
    annotate.add_argument("image", help="photo or scan of a drawing (any format Pillow reads)")
    annotate.add_argument("--output", "-o", required=True, help="character folder to write")
    annotate.add_argument("--backend", choices=backends, default="auto",
                          help="pose backend (default auto: torchserve when --endpoint is given, else the "
                               "embedded model when its weights are installed, else manual)")
    annotate.add_argument("--endpoint", help="TorchServe base URL, e.g. http://127.0.0.1:8080")
    annotate.add_argument("--checkpoint", help="pose checkpoint (.pth or AD's .mar) for --backend torch")
    annotate.add_argument("--deadline", type=arguments.seconds, help=arguments.DEADLINE_HELP)
    annotate.add_argument("--box", type=arguments.box, help="L,T,R,B in working-image px instead of detection")
    annotate.add_argument("--force", action="store_true",
                          help="replace a character already in the output folder, even read-only files")
    annotate.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    pose = sub.add_parser("pose", help="print the 17 COCO keypoints [[x, y, score], ...] of a drawing")
    pose.add_argument("image")
    pose.add_argument("--backend", choices=backends, default="auto")
    pose.add_argument("--endpoint")
    pose.add_argument("--checkpoint")
    pose.add_argument("--deadline", type=arguments.seconds, help=arguments.DEADLINE_HELP)
    pose.add_argument("--box", default=None,
                      help="'full' (the whole image, as AD's handler does) or L,T,R,B in the image's px")
    pose.add_argument("--json", action="store_true", help="print JSON (the default output format)")
    pose.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    doctor = sub.add_parser("doctor", help="explain broken torch, mmcv or TorchServe setups, with fixes")
    doctor.add_argument("--endpoint", help="TorchServe inference URL to probe, e.g. http://127.0.0.1:8080")
    doctor.add_argument("--management", help="TorchServe management URL, e.g. http://127.0.0.1:8081")
    doctor.add_argument("--token", help="TorchServe bearer token, when token auth is on")
    doctor.add_argument("--deadline", type=arguments.seconds, help=arguments.DEADLINE_HELP)
    doctor.add_argument("--detector-model", default="drawn_humanoid_detector", help="detector model name")
    doctor.add_argument("--pose-model", default="drawn_humanoid_pose_estimator", help="pose model name")
    doctor.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    motions = sub.add_parser("motions", help="list the bundled motion clips")
    motions.add_argument("--json", action="store_true", help="machine-readable output")
    motions.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    demo = sub.add_parser("demo", help="animate the built-in sample character with every bundled motion")
    demo.add_argument("--output", "-o", default="out", help="folder for the GIFs (default: out/)")
    demo.add_argument("--size", "-s", type=arguments.size, default=(400, 400), help="output size (default 400)")
    demo.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    share = sub.add_parser("share", help="upload exported files to S3 and print presigned links",
                           description="Upload files to an S3-compatible bucket and print a presigned URL (one "
                           "file) or {name: url} JSON (several). Defaults come from the studio's Share settings; "
                           "credentials come from boto3's chain (AWS_ACCESS_KEY_ID/..., ~/.aws, --profile).")
    share.add_argument("files", nargs="+", help="files to upload (e.g. the GIFs of 'studio render')")
    share.add_argument("--bucket", help="bucket name")
    share.add_argument("--endpoint-url", help="S3-compatible endpoint, e.g. http://127.0.0.1:8333 (default: AWS)")
    share.add_argument("--region", help="region (default us-east-1)")
    share.add_argument("--prefix", help="key prefix (default drawings/)")
    share.add_argument("--profile", help="boto3 profile for the credentials")
    share.add_argument("--expires", type=int, help="seconds the links stay valid (default 604800, at most that)")
    share.add_argument("--json", action="store_true", help="print {name: url} JSON even for one file")
    share.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    sample = sub.add_parser("sample", help="write the built-in sample character folder")
    sample.add_argument("output", help="folder to write")
    sample.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    scene_cli.add_parser(sub)
    batch_cli.add_parser(sub)
    return parser


def _cmd_render(args: argparse.Namespace) -> int:
    from studio.core.render import parse_background
    from studio.core.render_job import RenderRequest, render_to_file

    request = RenderRequest(character=args.character, motion=args.motion[0], retarget=args.retarget, bvh=args.bvh,
                            frames=args.frames, size=args.size, background=parse_background(args.background),
                            camera=args.camera, output=Path(args.output),
                            dump_rig=Path(args.dump_rig) if args.dump_rig else None, sheet=args.sheet,
                            packed=args.packed, more_motions=tuple(args.motion[1:]))
    bar = TerminalProgress("rendering", sys.stderr)
    started = time.perf_counter()
    try:
        result = render_to_file(request, progress=bar.update)
    finally:
        bar.finish()
    verbose = getattr(args, "verbose", False)
    print_notes(result.notes, verbose)
    written = " and ".join(str(p) for p in result.files)
    timing = f"{len(args.motion)} motions" if len(args.motion) > 1 else f"{result.frame_time * 1000:.1f} ms/frame"
    print(f"wrote {written} ({result.frames} frames, {timing}, {result.width}x{result.height}) in "
          f"{time.perf_counter() - started:.2f} s")
    if verbose:
        print_timings(result.timings)
    return EXIT_OK


def _cmd_motions(args: argparse.Namespace) -> int:
    from studio.core.motion_source import bundled_motions, motions_dir
    from studio.pipeline.motion.bvh import read_bvh
    from studio.pipeline.motion.config import read_motion_config

    rows = []
    for name in bundled_motions():
        cfg = read_motion_config(motions_dir() / f"{name}.motion.yaml")
        bvh = read_bvh(motions_dir() / cfg.filepath)
        rows.append({"name": name, "frames": bvh.n_frames, "fps": round(1.0 / bvh.frame_time, 2),
                     "seconds": round(bvh.duration, 2), "file": str(motions_dir() / cfg.filepath)})
    if not rows:
        print(f"studio: error: no bundled motions found in {motions_dir()}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']:<12} {row['frames']:>4} frames  {row['fps']:>5g} fps  {row['seconds']:>5.2f} s")
    return EXIT_OK


def _cmd_annotate(args: argparse.Namespace) -> int:
    from studio.core.annotate import annotate, check_output_folder, make_backend, write_annotation

    check_output_folder(args.image, args.output, args.force)
    backend = make_backend(args.backend, args.endpoint, args.checkpoint, deadline=args.deadline)
    result = annotate(args.image, backend, args.box,
                      progress=(lambda stage: print(f"  {stage}…", file=sys.stderr)) if sys.stderr.isatty() else None)
    folder = write_annotation(result, args.output)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    left, top, right, bottom = (int(v) for v in result.box)
    print(f"wrote {folder} (box {left},{top},{right},{bottom}; {len(result.character.names)} joints; "
          f"backend {backend.name})")
    return EXIT_OK


def _cmd_pose(args: argparse.Namespace) -> int:
    from studio.core.annotate import make_backend
    from studio.pipeline.intake.box import box_overlaps
    from studio.pipeline.intake.images import read_image
    from studio.pipeline.pose.backend import check_keypoints

    backend = make_backend(args.backend, args.endpoint, args.checkpoint, deadline=args.deadline)
    image = read_image(args.image)
    h, w = image.rgb.shape[:2]
    if args.box in (None, ""):
        detections = backend.detect(image.rgb)
        if not detections:
            raise ValueError("no figure found: pass --box full or --box L,T,R,B")
        box = detections[0].box
    elif args.box == "full":
        box = (0.0, 0.0, float(w), float(h))
    else:  # in the original image's px, like the keypoints printed below
        try:
            given = arguments.box(args.box)
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--box: {exc}") from None
        width, height = image.original_size
        if not box_overlaps(given, width, height):
            raise ValueError(f"the box {args.box} lies outside the {width}×{height} px image")
        left, top, right, bottom = (v * image.scale for v in given)
        box = (max(0.0, left), max(0.0, top), min(float(w), right), min(float(h), bottom))  # as annotate clips it
    result = backend.pose(image.rgb, box)
    check_keypoints(result.keypoints, box, backend.name)
    points = result.keypoints.copy()
    points[:, :2] = image.to_original(points[:, :2])  # report in the original image's pixels
    print(json.dumps([[round(float(x), 2), round(float(y), 2), round(float(s), 4)] for x, y, s in points]))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _cmd_doctor(args: argparse.Namespace) -> int:
    from studio.core.doctor import exit_code, format_report, run_checks

    checks = run_checks(args.endpoint, args.management, args.token, (args.detector_model, args.pose_model),
                        deadline=args.deadline)
    print(format_report(checks))
    code = exit_code(checks)
    print({0: "all well", 1: "problems found", 2: "some checks could not run"}[code])
    return code


def _cmd_demo(args: argparse.Namespace) -> int:
    from studio.core.motion_source import bundled_motions, load_motion
    from studio.core.render import Animation, Background
    from studio.core.render_job import export_animation
    from studio.pipeline.encode.gif import GIF_MAX_FPS
    from studio.core.sample import sample_character, sample_character_files

    names = bundled_motions()
    if not names:
        raise FileNotFoundError("no bundled motions found: is the motions/ folder missing?")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    folder = sample_character_files(out / "sample_character")
    character = sample_character()
    rig = None
    for name in names:
        started = time.perf_counter()
        animation = Animation(character, load_motion(name, character), args.size, rig=rig, max_fps=GIF_MAX_FPS)
        rig = animation.rig
        target = out / f"sample_{name}.gif"
        export_animation(animation, target, Background())
        for note in animation.notes:
            if any(k in note for k in IMPORTANT_NOTES):
                print(f"note: {name}: {note}", file=sys.stderr)
        print(f"{target}  ({animation.n_frames} frames, {time.perf_counter() - started:.2f} s)")
    print(f"sample character folder: {folder}")
    return EXIT_OK


def _cmd_sample(args: argparse.Namespace) -> int:
    from studio.core.sample import sample_character_files

    folder = sample_character_files(Path(args.output))
    print(f"wrote the sample character to {folder}")
    return EXIT_OK


def _cmd_share(args: argparse.Namespace) -> int:
    from studio.core.settings import AppSettings
    from studio.core.share import share_files

    saved = AppSettings.load().share
    bucket = args.bucket or saved.bucket
    if not bucket:
        print("studio: error: no bucket: pass --bucket NAME or set one in the studio's Share settings",
              file=sys.stderr)
        return EXIT_ERROR
    settings = dataclasses.replace(saved, bucket=bucket, endpoint_url=args.endpoint_url or saved.endpoint_url,
                                   region=args.region or saved.region,
                                   prefix=saved.prefix if args.prefix is None else args.prefix,
                                   profile=args.profile or saved.profile,
                                   expires=args.expires if args.expires is not None else saved.expires)
    bar = TerminalProgress("uploading", sys.stderr)
    urls = share_files([Path(f) for f in args.files], settings, progress=bar.update)
    bar.finish()
    print(json.dumps(urls, indent=2) if args.json or len(urls) > 1 else next(iter(urls.values())))
    return 0


COMMANDS = {"render": _cmd_render, "scene": scene_cli.run, "batch": batch_cli.run, "annotate": _cmd_annotate,
            "pose": _cmd_pose, "doctor": _cmd_doctor, "demo": _cmd_demo, "motions": _cmd_motions,
            "sample": _cmd_sample, "share": _cmd_share}


RENDERING_COMMANDS = ("render", "scene", "batch", "demo")  # these compile the kernels at an install's first start


class Terminated(KeyboardInterrupt):
    """SIGTERM (a container stopping, ``kill``): unwinds like Ctrl-C, so atomic writes remove their temps."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within this block, SIGTERM raises Terminated in the main thread (where Python runs signal handlers)."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): leave its handling alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from studio.pipeline.files.atomic import ReadOnlyTargetError, overwrite_read_only, remove_unfinished

    try:
        with _sigterm_as_interrupt(), (overwrite_read_only() if getattr(args, "force", False)
                                       else contextlib.nullcontext()):
            if args.command in RENDERING_COMMANDS:
                from studio.core.first_start import before_rendering

                before_rendering(lambda line: print(line, file=sys.stderr))
            return COMMANDS[args.command](args)
    except Terminated:
        remove_unfinished()  # the signal may have landed between a temp's creation and its cleanup
        print("\nstudio: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        remove_unfinished()
        print("\nstudio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - the CLI's contract: one clear line, never a traceback
        if args.verbose:
            traceback.print_exc()
        hint = ("; pass --force to replace it" if isinstance(exc, ReadOnlyTargetError) and "force" in args
                else "")
        print(f"studio: error: {_describe(exc)}{hint}", file=sys.stderr)
        return EXIT_ERROR


def _describe(exc: BaseException) -> str:
    """One line for the terminal: the same words the window's banner uses, with room for two long paths."""
    from studio.core.loading import describe_error

    return describe_error(exc, limit=CLI_MESSAGE_LIMIT)


if __name__ == "__main__":
    sys.exit(main())
