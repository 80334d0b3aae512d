"""``rtcc config``: print the effective settings (secrets redacted)."""

from __future__ import annotations

import argparse
import json

from rtcc.config import Settings


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("config", parents=[common], help="print the effective settings",
                       description="Print the settings this command line and environment give, "
                       "with secrets redacted.")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    described = {k: str(v) for k, v in settings.describe().items()}
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        for key, value in described.items():
            print(f"{key:<22} {value}")
    return 0
