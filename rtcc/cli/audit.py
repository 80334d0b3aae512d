"""``rtcc audit``: verify the hash chain, export for an annual oversight report, show entries.

``rtcc audit verify`` exits 0 when the chain is intact and 2 when it names the first edited,
removed, inserted or reordered entry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import redis.asyncio as aredis

from rtcc.config import Settings
from rtcc.errors import InvalidInput

EXAMPLES = """examples:
  rtcc audit verify
  rtcc audit export --format csv --since 2026-01-01 --until 2026-12-31 -o audit-2026.csv
  rtcc audit export --format json -o report.json
  rtcc audit tail -n 20
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "audit", help="the tamper-evident audit log",
        description="The append-only audit log: every login, consent change, request, decision, "
        "export, evidence and live view, each entry carrying the hash of the one before.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    a = actions.add_parser("verify", parents=[common], help="check the hash chain")
    a.add_argument("--json", action="store_true", help="as JSON")
    a.set_defaults(handler=_verify)

    a = actions.add_parser("export", parents=[common], help="write entries as CSV or JSON")
    a.add_argument("--format", choices=("csv", "json"), default="json")
    a.add_argument("--since", metavar="WHEN", help="from this date (YYYY-MM-DD) or time")
    a.add_argument("--until", metavar="WHEN", help="to this date (inclusive) or time")
    a.add_argument("-o", "--output", metavar="FILE", required=True, help="file, or - for stdout")
    a.set_defaults(handler=_export)

    a = actions.add_parser("tail", parents=[common], help="print the newest entries")
    a.add_argument("-n", type=int, default=20, metavar="N", help="how many (default 20)")
    a.set_defaults(handler=_tail)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.audit_verify import verify
    from rtcc.registry.runner import run_command

    async def go(redis: aredis.Redis) -> int:
        result = await verify(redis)
        p = result.problem
        if args.json:
            print(json.dumps({
                "ok": result.ok, "entries": result.entries, "head_seq": result.head_seq,
                "head_hash": result.head_hash,
                "problem": None if p is None else {"kind": p.kind, "seq": p.seq,
                                                   "position": p.position,
                                                   "message": p.message}}, indent=1))
        elif p is None:
            print(f"audit log intact: {result.entries} entries, head seq {result.head_seq} "
                  f"hash {result.head_hash}")
        else:
            print(f"rtcc audit verify: TAMPERED: {p.message}", file=sys.stderr)
        return 0 if p is None else 2

    return run_command("audit", settings, go)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.audit_export import export
    from rtcc.registry.runner import cli_actor, run_command
    from rtcc.registry.webutil import parse_bound

    async def go(redis: aredis.Redis) -> int:
        tz = ZoneInfo(settings.registry_tz)
        since = parse_bound(args.since, tz, "--since", end=False)
        until = parse_bound(args.until, tz, "--until", end=True)
        data, _, count = await export(redis, args.format, actor=cli_actor(), since=since,
                                      until=until)
        if args.output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            try:
                await asyncio.to_thread(Path(args.output).write_bytes, data)
            except OSError as err:
                raise InvalidInput(f"cannot write {args.output}: {err.strerror or err}",
                                   "--output") from err
            print(f"wrote {count} entries to {args.output}", file=sys.stderr)
        return 0

    return run_command("audit", settings, go)


def _tail(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.keys import AUDIT_LOG
    from rtcc.registry.audit import AuditEntry
    from rtcc.registry.runner import run_command
    from rtcc.registry.txn import text

    if args.n < 1:
        print("rtcc audit: -n must be at least 1", file=sys.stderr)
        return 2

    async def go(redis: aredis.Redis) -> int:
        for raw in await redis.lrange(AUDIT_LOG, -args.n, -1):  # type: ignore[misc]
            stored = text(raw) or ""
            try:
                e = AuditEntry.from_json(stored)
            except (ValueError, TypeError):
                print(f"(unparsable entry) {stored[:120]}")
                continue
            details = json.dumps(e.details, sort_keys=True, separators=(",", ":"))
            print(f"{e.seq:>6} {e.ts} {e.actor:<16} {e.role:<9} {e.ip:<15} {e.event:<18} "
                  f"{e.subject} {details}")
        return 0

    return run_command("audit", settings, go)
