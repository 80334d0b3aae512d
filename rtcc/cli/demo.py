"""``rtcc demo``: the main job in one command (for now: a world-analysis demonstration)."""

from __future__ import annotations

import argparse

from rtcc.config import Settings


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[common], help="run the demonstration",
                       description="Run the demonstration.")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise NotImplementedError
