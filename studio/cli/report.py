"""What a render-like command tells the terminal after its work: its notes (the important ones, or all with
--verbose) and, with --verbose, the time each stage took."""

from __future__ import annotations

import sys
from typing import Iterable, Mapping

IMPORTANT_NOTES = ("outside", "does not fit", "dropped", "resampled", "skipped")  # shown without --verbose


def print_notes(notes: Iterable[str], verbose: bool, important: tuple[str, ...] = IMPORTANT_NOTES) -> None:
    """The notes on stderr: those holding an ``important`` phrase, all of them when ``verbose``, and how many
    more --verbose would show."""
    notes = list(notes)
    shown = [n for n in notes if verbose or any(k in n for k in important)]
    for note in shown:
        print(f"note: {note}", file=sys.stderr)
    if len(shown) < len(notes):
        print(f"note: {len(notes) - len(shown)} more notes on the motion mapping with --verbose", file=sys.stderr)


def print_timings(timings: Mapping[str, float]) -> None:
    """Each stage's seconds on stderr, in ms."""
    for stage, seconds in timings.items():
        print(f"  {stage:<22} {seconds * 1000:9.1f} ms", file=sys.stderr)
