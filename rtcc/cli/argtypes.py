"""argparse ``type=`` functions shared by the command modules (each error names the value)."""

from __future__ import annotations

import argparse
import math


def positive_int(raw: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {raw!r}")
    return value


def positive_float(raw: str) -> float:
    """A finite number > 0."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {raw!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {raw!r}")
    return value


def seconds(raw: str) -> float:
    """A duration in seconds, > 0 and < 1e9."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {raw!r}") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {raw!r}")
    return value
