"""``rtcc registry``: list, show, set, revoke, import, export, source.

Acts on the durable state Redis (the embedded one, reused while ``rtcc serve`` runs it). The CLI
user acts as an admin named ``cli:<os user>``; ``--as NAME`` acts as a registered user instead and
enforces that user's role (a resident may only change their own household's cameras), so the
audit log names the person who asked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import redis.asyncio as aredis

from rtcc.config import Settings
from rtcc.errors import AuthError, InvalidInput
from rtcc.logs import redact_url
from rtcc.registry.consent import effective_tier, format_time, is_live
from rtcc.vocabulary import TIERS

EXAMPLES = """examples:
  rtcc registry import scenarios/jackson.geojson
  rtcc registry list --tier live
  rtcc registry set cam-0007 live --schedule 20:00-06:00 --expires 30d --as alice
  rtcc registry revoke cam-0007 --reason "moved out"
  rtcc registry export -o registry.json --history
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "registry", help="the opt-in consent registry",
        description=f"Households, cameras and consent tiers ({', '.join(TIERS)}) with "
        "expiry, daily schedules and history.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    a = actions.add_parser("list", parents=[common], help="list cameras and their consent")
    a.add_argument("--household", metavar="ID", help="only this household's cameras")
    a.add_argument("--tier", choices=TIERS, help="only cameras at this effective tier")
    a.add_argument("--json", action="store_true", help="as JSON")
    a.set_defaults(handler=_list)

    a = actions.add_parser("show", parents=[common], help="one camera, optionally its history")
    a.add_argument("camera", metavar="CAMERA")
    a.add_argument("--history", action="store_true", help="also every change")
    a.add_argument("--json", action="store_true", help="as JSON")
    a.set_defaults(handler=_show)

    a = actions.add_parser("set", parents=[common], help="set a camera's consent tier")
    a.add_argument("camera", metavar="CAMERA")
    a.add_argument("tier", metavar="TIER", help=f"one of {', '.join(TIERS)}")
    a.add_argument("--expires", metavar="WHEN",
                   help="ISO 8601 time (no offset = registry time zone), unix seconds, or a "
                   "duration such as 2h, 30d")
    a.add_argument("--schedule", metavar="HH:MM-HH:MM",
                   help="live only inside this daily window (e.g. 20:00-06:00); tier live only")
    a.add_argument("--reason", default="", help="why (kept in the history and audit log)")
    a.add_argument("--as", dest="as_user", metavar="USER", help="act as this registered user")
    a.set_defaults(handler=_set)

    a = actions.add_parser("revoke", parents=[common], help="withdraw a camera's consent")
    a.add_argument("camera", metavar="CAMERA")
    a.add_argument("--reason", default="", help="why (kept in the history and audit log)")
    a.add_argument("--as", dest="as_user", metavar="USER", help="act as this registered user")
    a.set_defaults(handler=_revoke)

    a = actions.add_parser("import", parents=[common],
                           help="create or refresh the registry from a world file's seeds",
                           description="Idempotent: cameras keep any tier a person has set "
                           "since; only cameras still at their seeded tier follow a changed seed.")
    a.add_argument("world", metavar="WORLD", help="world file (GeoJSON)")
    a.set_defaults(handler=_import)

    a = actions.add_parser("export", parents=[common], help="the registry as JSON")
    a.add_argument("-o", "--output", metavar="FILE", default="-", help="file (default stdout)")
    a.add_argument("--history", action="store_true", help="include every consent change")
    a.set_defaults(handler=_export)

    a = actions.add_parser("source", parents=[common],
                           help="set where the hub gets a camera's stream")
    a.add_argument("camera", metavar="CAMERA")
    a.add_argument("source", metavar="URL", help="rtsp://... , whip, or none")
    a.set_defaults(handler=_source)


def _registry(redis: aredis.Redis, settings: Settings):  # type: ignore[no-untyped-def]
    from rtcc.registry.store import Registry

    return Registry(redis, tz=ZoneInfo(settings.registry_tz))


async def _actor(redis: aredis.Redis, as_user: str | None):  # type: ignore[no-untyped-def]
    from rtcc.registry.runner import cli_actor
    from rtcc.registry.users import Users

    if not as_user:
        return cli_actor()
    user = await Users(redis).get(as_user)
    if user.revoked:
        raise AuthError(f"user {as_user!r} is revoked")
    return user.actor("local")


def _run(settings: Settings, fn) -> int:  # type: ignore[no-untyped-def]
    from rtcc.registry.runner import run_command

    return run_command("registry", settings, fn)


def _row(cam, now: float, tz: ZoneInfo) -> str:  # type: ignore[no-untyped-def]
    c = cam.consent
    live = "yes" if is_live(c, now, tz) else "no"
    extra = []
    if c.expires is not None:
        extra.append(f"expires {format_time(c.expires)}")
    if c.schedule:
        extra.append(f"schedule {c.schedule}")
    if c.origin == "user":
        extra.append(f"set by {c.updated_by}")
    return (f"{cam.id:<16} {cam.household or '-':<14} {cam.info.type:<10} "
            f"{effective_tier(c, now):<9} {live:<5} {'; '.join(extra)}")


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.store import camera_json

    async def go(redis: aredis.Redis) -> int:
        reg = _registry(redis, settings)
        cams = await reg.cameras(args.household)
        now = time.time()
        cams = [c for c in cams if args.tier is None or effective_tier(c.consent, now) == args.tier]
        if args.json:
            print(json.dumps([camera_json(c, now, reg.tz) for c in cams], indent=1))
            return 0
        print(f"{'CAMERA':<16} {'HOUSEHOLD':<14} {'TYPE':<10} {'TIER':<9} {'LIVE':<5} NOTES")
        for cam in cams:
            print(_row(cam, now, reg.tz))
        print(f"{len(cams)} camera{'s' if len(cams) != 1 else ''}, registry version "
              f"{await reg.version()}", file=sys.stderr)
        return 0

    return _run(settings, go)


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.store import camera_json

    async def go(redis: aredis.Redis) -> int:
        reg = _registry(redis, settings)
        cam = await reg.get(args.camera)
        doc = camera_json(cam, time.time(), reg.tz)
        history = [h.as_json() for h in await reg.history(cam.id)] if args.history else None
        if args.json:
            if history is not None:
                doc["history"] = history
            print(json.dumps(doc, indent=1))
            return 0
        for key, value in doc.items():
            print(f"{key:<12} {'-' if value is None else value}")
        for h in history or []:
            print(f"  {h['ts']}  {h['kind']:<8} {h['prev_tier']} -> {h['tier']}  by {h['actor']}"
                  f"{'  (' + h['reason'] + ')' if h['reason'] else ''}")
        return 0

    return _run(settings, go)


def _set(args: argparse.Namespace, settings: Settings) -> int:
    async def go(redis: aredis.Redis) -> int:
        reg = _registry(redis, settings)
        actor = await _actor(redis, args.as_user)
        cam = await reg.set_consent(args.camera, args.tier, actor=actor, expires=args.expires,
                                    schedule=args.schedule, reason=args.reason)
        print(_row(cam, time.time(), reg.tz))
        return 0

    return _run(settings, go)


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def go(redis: aredis.Redis) -> int:
        reg = _registry(redis, settings)
        actor = await _actor(redis, args.as_user)
        cam = await reg.revoke(args.camera, actor=actor, reason=args.reason)
        print(_row(cam, time.time(), reg.tz))
        return 0

    return _run(settings, go)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.importer import file_digest, import_world
    from rtcc.registry.runner import cli_actor
    from rtcc.world.geojson import load_world

    path = Path(args.world)
    world = load_world(path)  # WorldError (exit 2) lists every problem of the file
    digest = file_digest(path.read_bytes())

    async def go(redis: aredis.Redis) -> int:
        report = await import_world(_registry(redis, settings), world, actor=cli_actor(),
                                    source=str(path), digest=digest)
        print(f"imported {path}: {report.households} households; cameras: {report.created} "
              f"created, {report.seeded} re-seeded, {report.kept} kept at a tier set by a "
              f"person, {report.unchanged} unchanged; {report.not_in_file} in the registry "
              "but not in the file (left alone)")
        return 0

    return _run(settings, go)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.audit import AuditLog
    from rtcc.registry.importer import export_registry
    from rtcc.registry.runner import cli_actor

    async def go(redis: aredis.Redis) -> int:
        doc = await export_registry(_registry(redis, settings), history=args.history)
        text = json.dumps(doc, indent=1) + "\n"
        if args.output == "-":
            sys.stdout.write(text)
        else:
            try:
                await asyncio.to_thread(Path(args.output).write_text, text)
            except OSError as err:
                raise InvalidInput(f"cannot write {args.output}: {err.strerror or err}",
                                   "output") from err
            print(f"wrote {len(doc['cameras'])} cameras to {args.output}", file=sys.stderr)
        await AuditLog(redis).append("registry.export", actor=cli_actor(),
                                     subject=args.output,
                                     details={"cameras": len(doc["cameras"]),
                                              "history": args.history})
        return 0

    return _run(settings, go)


def _source(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.runner import cli_actor

    async def go(redis: aredis.Redis) -> int:
        reg = _registry(redis, settings)
        source = None if args.source.lower() == "none" else args.source
        cam = await reg.set_source(args.camera, source, actor=cli_actor())
        shown = redact_url(cam.info.source) if cam.info.source else "none"
        print(f"{cam.id}: source {shown}")
        return 0

    return _run(settings, go)
