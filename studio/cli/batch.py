"""``studio batch IN -o OUT --motions a,b,c [-j N] [--share]``: annotate many drawings once each and render all
their motions, locally or as one shard of a Kubernetes Indexed Job with input and output in S3.

Wired into studio.cli.main by ``add_parser(sub)`` in build_parser and ``COMMANDS["batch"] = run``. Errors that stop
the whole batch (bad input, bad flags) are raised for main's one-line report; a drawing that fails is reported on
its own line, the batch goes on, and the exit code is 1 when any drawing failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import TYPE_CHECKING

from studio.cli import arguments
from studio.core.batch_names import BATCH_FORMATS, COUNT_ENV, INDEX_ENV

if TYPE_CHECKING:  # the batch machinery is imported when the command runs, not whenever the CLI starts
    from studio.core.batch import BatchRequest, DrawingReport

TOKEN_ENV = "STUDIO_TORCHSERVE_TOKEN"  # the token stays off the command line (and a pod's args)


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> argparse.ArgumentParser:
    """The ``batch`` command's parser, added to main's subcommands."""

    parser = sub.add_parser(
        "batch", help="annotate a folder of drawings and render every motion of each (locally, or one shard of a "
        "Kubernetes Indexed Job with S3 input and output)",
        description="Each drawing is annotated once, then its motions are rendered across -j worker processes. "
        "OUT/NAME/ gets NAME's renders, its character folder, results.json ({motion: file or url}, this run's "
        "motions) and render-settings.json. Outputs finished with the same settings are skipped, so a rerun resumes; "
        "those made with other settings (size, frames, background, format, backend) are made again. A drawing that "
        "fails is reported and the batch goes on; the exit code is 1 when any failed. "
        f"Sharding: --shard-index (default ${INDEX_ENV}, which an Indexed Job sets) and "
        f"--shards (default ${COUNT_ENV}). S3 credentials come from boto3's chain (AWS_ACCESS_KEY_ID/...).")
    parser.add_argument("input", metavar="IN", help="a folder of drawings, a text file listing them (one a line), or "
                        "s3://BUCKET/PREFIX")
    parser.add_argument("--output", "-o", required=True, help="a folder, or s3://BUCKET/PREFIX")
    parser.add_argument("--motions", "-m", required=True,
                        help="comma-separated bundled names (see 'studio motions'), .bvh files or AD motion configs")
    parser.add_argument("--jobs", "-j", type=arguments.positive, default=1, help="worker processes (default 1)")
    parser.add_argument("--share", action="store_true", help="results.json holds presigned URLs: an S3 output's own "
                        "objects, or a local output's files uploaded to the Share bucket (--bucket)")
    parser.add_argument("--format", "-f", choices=BATCH_FORMATS, default="gif", help="output format (default gif)")
    parser.add_argument("--size", "-s", type=arguments.size, default=(500, 500),
                        help="output size: S or WxH (default 500)")
    parser.add_argument("--frames", "-n", type=arguments.positive,
                        help="resample each clip to N frames, keeping its duration")
    parser.add_argument("--background", "-b", default="transparent",
                        help="'transparent', a colour ('white', '#ffcc00') or an image file")
    parser.add_argument("--backend", choices=("auto", "embedded", "manual", "torchserve", "torch", "mm"),
                        default="auto", help="pose backend for annotation (default auto, as 'studio annotate')")
    parser.add_argument("--endpoint", help="TorchServe base URL for --backend torchserve; its token from "
                        f"${TOKEN_ENV}")
    parser.add_argument("--checkpoint", help="pose checkpoint for --backend torch or mm")
    parser.add_argument("--deadline", type=arguments.seconds, help=arguments.DEADLINE_HELP)
    parser.add_argument("--shard-index", type=_whole, help=f"this shard, from 0 (default ${INDEX_ENV})")
    parser.add_argument("--shards", type=_whole, help=f"how many shards share the input (default ${COUNT_ENV}, else 1)")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint (default $AWS_ENDPOINT_URL, then the Share "
                        "settings; AWS itself when none)")
    parser.add_argument("--region", help="S3 region (default $AWS_REGION, then the Share settings)")
    parser.add_argument("--profile", help="boto3 profile for the S3 credentials")
    parser.add_argument("--bucket", help="with --share and a local OUT: the bucket to upload to (default: Share "
                        "settings)")
    parser.add_argument("--prefix", help="with --share and a local OUT: key prefix (default: Share settings)")
    parser.add_argument("--expires", type=arguments.positive, help="seconds --share links stay valid (at most 604800)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout (per-drawing lines "
                        "go to stderr)")
    parser.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def request_from_args(args: argparse.Namespace) -> BatchRequest:
    """The BatchRequest the flags describe (the Share settings and the environment fill what they leave out)."""
    from studio.core.batch import BatchRequest, Shard, batch_motions
    from studio.core.batch_store import BatchInputError, Destination, S3Access, is_s3
    from studio.core.batch_tasks import BackendSpec, RenderSettings

    from studio.core.settings import AppSettings

    saved = AppSettings.load().share
    env = os.environ
    access = S3Access(endpoint_url=(args.endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
                                    or saved.endpoint_url or ""),
                      region=args.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or saved.region,
                      profile=args.profile or saved.profile or "",
                      expires=args.expires if args.expires is not None else saved.expires)
    share = None
    if args.share and not is_s3(args.output):
        share = dataclasses.replace(saved, bucket=args.bucket or saved.bucket,
                                    endpoint_url=args.endpoint_url or saved.endpoint_url, region=access.region,
                                    prefix=saved.prefix if args.prefix is None else args.prefix, profile=access.profile,
                                    expires=access.expires)
        if not share.bucket:  # said now, not once per drawing
            raise BatchInputError("--share with a local output uploads to a bucket: pass --bucket NAME or set one in "
                                  "the studio's Share settings (or write to s3://BUCKET/PREFIX)")
    backend = BackendSpec(args.backend, args.endpoint, args.checkpoint, env.get(TOKEN_ENV) or None, args.deadline)
    settings = RenderSettings(args.size, args.frames, args.background, args.format)
    from studio.core.render import parse_background

    parse_background(settings.background)  # a bad background is one error now, not one per motion
    return BatchRequest(args.input, Destination(args.output, access, share), batch_motions(args.motions.split(",")),
                        args.jobs, args.share, Shard.from_env(args.shard_index, args.shards), backend, settings)


def _say(report: DrawingReport, stream: object) -> None:
    if report.status == "failed":
        line = f"failed  {report.name}: {'; '.join(report.errors)}"
    elif report.status == "kept":
        line = f"kept    {report.name}: already finished" + (", results.json now lists this run's motions"
                                                           if report.results else "")
    else:
        line = (f"done    {report.name}: {len(report.rendered)} rendered"
                + (f", {len(report.kept)} kept" if report.kept else "")
                + (f"; made again for new settings ({', '.join(report.changed)})" if report.changed else "")
                + f" -> {report.results}")
    print(line, file=stream, flush=True)  # type: ignore[call-overload]


def run(args: argparse.Namespace) -> int:
    """Run the batch; prints one line per drawing and a summary. Returns 1 when any drawing failed."""
    from studio.core.batch import run_batch

    request = request_from_args(args)
    lines = sys.stderr if args.json else sys.stdout
    report = run_batch(request, on_drawing=lambda d: _say(d, lines))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    print(report.summary(), file=lines)
    if report.failed:
        names = ", ".join(d.name for d in report.failed)
        print(f"studio: error: {len(report.failed)} of {len(report.drawings)} drawings failed ({names}); a rerun "
              "takes them up and skips what is finished", file=sys.stderr)
        return 1
    return 0
