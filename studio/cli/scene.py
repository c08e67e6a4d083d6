"""``studio scene SCENE -o OUT``: render a scene (the studio's scene YAML, an AD MVC config as it is, or a .studio
project keeping one) to GIF, MP4, WebM, APNG, a sprite sheet or PNG frames.

Wired into studio.cli.main by ``add_parser(sub)`` in build_parser and ``COMMANDS["scene"] = run``; errors are raised
for main's handler, which prints them as one line and exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from studio.cli import arguments
from studio.cli.progress import TerminalProgress
from studio.cli.report import IMPORTANT_NOTES, print_notes, print_timings

IMPORTANT = IMPORTANT_NOTES + ("not supported", "made the folder", "H.264", "CLEAR_COLOR", "AD tree")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> argparse.ArgumentParser:
    """The ``scene`` command's parser, added to main's subcommands."""

    parser = sub.add_parser("scene", help="render a scene of several characters on a background (a studio scene "
                            "YAML, an AD MVC config as it is, or a .studio project's scene)",
                            description="Render a scene. An AD MVC config's relative file names resolve from the "
                            "current folder, as AD resolves them; without -o its OUTPUT_VIDEO_PATH is written.")
    parser.add_argument("scene", help="SCENE.yaml (studio_scene: 1), an AD MVC config .yaml, or a PROJECT.studio")
    parser.add_argument("--output", "-o", help="OUT.gif, OUT.mp4, OUT.webm, OUT.apng, OUT.png with --sheet, or a "
                        "folder for PNG frames (default: an AD config's OUTPUT_VIDEO_PATH)")
    parser.add_argument("--frames", "-n", type=arguments.positive,
                        help="resample the whole scene to N frames, keeping its "
                        "duration")
    parser.add_argument("--size", "-s", type=arguments.size, help="canvas size S or WxH (default: the scene's)")
    parser.add_argument("--background", "-b", help="'transparent', a colour ('white', '#ffcc00') or an image file, "
                        "instead of the scene's")
    parser.add_argument("--sheet", action="store_true", help="write a sprite sheet: OUT.png and OUT.json")
    parser.add_argument("--packed", action="store_true", help="with --sheet: trim and pack the frames")
    parser.add_argument("--force", action="store_true", help="replace an output even when it is read-only")
    parser.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def run(args: argparse.Namespace) -> int:
    """Render the scene; prints what was written. Raises for main's one-line error report."""
    from studio.core.scene_job import SceneRequest, render_scene_to_file

    request = SceneRequest(Path(args.scene), Path(args.output) if args.output else None, args.frames, args.size,
                           args.background, args.sheet, args.packed)
    bar = TerminalProgress("rendering", sys.stderr)
    started = time.perf_counter()
    try:
        result = render_scene_to_file(request, progress=bar.update)
    finally:
        bar.finish()
    verbose = getattr(args, "verbose", False)
    print_notes(result.notes, verbose, IMPORTANT)
    written = " and ".join(str(p) for p in result.files)
    print(f"wrote {written} ({result.characters} characters, {result.frames} frames, "
          f"{result.frame_time * 1000:.1f} ms/frame, {result.width}x{result.height}) in "
          f"{time.perf_counter() - started:.2f} s")
    if verbose:
        print_timings(result.timings)
    return 0
