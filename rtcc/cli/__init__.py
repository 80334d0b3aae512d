"""The ``rtcc`` command line: one subcommand module per command group.

Each module in this package exposes ``register(subparsers, common)``; ``common`` is a parent parser
carrying the settings flags (``--redis-url``, ``--data-dir``...). Heavy imports (aiortc, PyAV,
matplotlib) happen inside the handlers so that ``rtcc --help`` stays instant.
A handler takes ``(args, settings)`` and returns an exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib
import signal
import sys
from dataclasses import fields

from rtcc import __version__
from rtcc.config import Settings
from rtcc.errors import ConfigError, RtccError, WorldError
from rtcc.logs import setup_logging

# Command groups in the order --help lists them.
COMMAND_MODULES = ("demo", "serve", "world", "registry", "audit", "users", "sim", "exposure",
                   "report", "config")

EXIT_OK, EXIT_ERROR, EXIT_INPUT = 0, 1, 2


def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("settings")
    group.add_argument("--redis-url", metavar="URL",
                       help="use this Redis instead of the embedded default [RTCC_REDIS_URL]")
    group.add_argument("--data-dir", metavar="DIR", help="durable state [RTCC_DATA_DIR]")
    group.add_argument("--run-dir", metavar="DIR", help="sockets and pid files [RTCC_RUN_DIR]")
    group.add_argument("--log-level", metavar="LEVEL",
                       help="debug, info, warning or error [RTCC_LOG_LEVEL]")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtcc",
        description="An open simulator of a police Real-Time Crime Center: simulated cameras, "
        "an ingest hub, a monitor wall, an opt-in registry and a neighbour-exposure analyzer.",
        epilog=Settings.help_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rtcc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_parser()
    for name in COMMAND_MODULES:
        importlib.import_module(f"rtcc.cli.{name}").register(sub, common)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the flags that exist on this command (strings; Settings casts them)."""
    flags = {f.name: getattr(args, f.name, None) for f in fields(Settings)}
    return Settings.load(flags)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(signal, "SIGUSR1") and sys.__stderr__ is not None:
        # `kill -USR1 PID` prints every thread's stack to stderr: what a hung process is doing.
        with contextlib.suppress(ValueError, OSError):
            faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    try:
        settings = settings_from_args(args)
        setup_logging(settings.log_level)
        return int(args.handler(args, settings) or EXIT_OK)
    except (WorldError, ConfigError) as err:
        print(f"rtcc {args.command}: {err}", file=sys.stderr)
        return EXIT_INPUT
    except RtccError as err:
        print(f"rtcc {args.command}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"rtcc {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
