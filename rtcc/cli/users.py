"""``rtcc users``: add (prints the new API token once), list, revoke, token.

The first admin is created here: whoever can run the CLI against the state Redis is trusted as an
admin (``cli:<os user>`` in the audit log).
"""

from __future__ import annotations

import argparse
import json
import sys

import redis.asyncio as aredis

from rtcc.config import Settings
from rtcc.vocabulary import USER_ROLES

EXAMPLES = """examples:
  rtcc users add chief --role admin
  rtcc users add alice --role resident --household hh-0003 --password-stdin < pw.txt
  rtcc users list
  rtcc users revoke alice
  rtcc users token grafana --expires 90d

Every token expires: a browser login after RTCC_SESSION_TTL (12 h), an API token after
RTCC_TOKEN_TTL (30 days) unless --expires says otherwise (a duration such as 12h or 90d, or an ISO
8601 time; at most a year).
"""
EXPIRES_HELP = ("when the API token expires: a duration such as 12h or 90d, or an ISO 8601 time "
                "(default: RTCC_TOKEN_TTL, 30 days; at most a year)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "users", help="users, roles and API tokens",
        description=f"Users with a role ({', '.join(USER_ROLES)}) and API tokens "
        "(stored only as sha256; shown once).", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    a = actions.add_parser("add", parents=[common], help="add a user and print their token")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--role", dest="user_role", required=True, choices=USER_ROLES)
    a.add_argument("--household", metavar="ID", help="the household of a resident")
    a.add_argument("--password-stdin", action="store_true",
                   help="read a password for POST /api/login from the first line of stdin")
    a.add_argument("--expires", metavar="WHEN", help=EXPIRES_HELP)
    a.set_defaults(handler=_add)

    a = actions.add_parser("list", parents=[common], help="list users (never tokens)")
    a.add_argument("--json", action="store_true", help="as JSON")
    a.set_defaults(handler=_list)

    a = actions.add_parser("revoke", parents=[common],
                           help="disable a user and delete all their tokens")
    a.add_argument("name", metavar="NAME")
    a.set_defaults(handler=_revoke)

    a = actions.add_parser("token", parents=[common], help="issue another API token")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--expires", metavar="WHEN", help=EXPIRES_HELP)
    a.set_defaults(handler=_token)


def _users(redis: aredis.Redis, settings: Settings):  # type: ignore[no-untyped-def]
    from rtcc.registry.users import UserPolicy, Users

    return Users(redis, policy=UserPolicy.from_settings(settings))


def _run(settings: Settings, fn) -> int:  # type: ignore[no-untyped-def]
    from rtcc.registry.runner import run_command

    return run_command("users", settings, fn)


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.consent import format_time
    from rtcc.registry.runner import cli_actor

    password = None
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            print("rtcc users: --password-stdin: stdin gave no password", file=sys.stderr)
            return 2

    async def go(redis: aredis.Redis) -> int:
        users = _users(redis, settings)
        user, token = await users.add(args.name, args.user_role, actor=cli_actor(),
                                      household=args.household, password=password,
                                      expires=args.expires)
        grant = await users.grant(token)
        where = f" of household {user.household}" if user.household else ""
        print(f"added {user.name} ({user.role}{where}); API token (shown once, keep it "
              f"secret; expires {format_time(grant.expires)}):", file=sys.stderr)
        print(token)
        return 0

    return _run(settings, go)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def go(redis: aredis.Redis) -> int:
        users = await _users(redis, settings).all()
        if args.json:
            print(json.dumps([u.as_json() for u in users], indent=1))
            return 0
        print(f"{'NAME':<20} {'ROLE':<9} {'HOUSEHOLD':<14} {'PASSWORD':<8} {'STATE':<8} CREATED")
        for u in users:
            created = u.as_json()["created"]
            print(f"{u.name:<20} {u.role:<9} {u.household or '-':<14} "
                  f"{'yes' if u.has_password else 'no':<8} "
                  f"{'revoked' if u.revoked else 'active':<8} {created}")
        return 0

    return _run(settings, go)


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.runner import cli_actor

    async def go(redis: aredis.Redis) -> int:
        user = await _users(redis, settings).revoke(args.name, actor=cli_actor())
        print(f"revoked {user.name}: every token deleted, logins refused")
        return 0

    return _run(settings, go)


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.registry.consent import format_time
    from rtcc.registry.runner import cli_actor

    async def go(redis: aredis.Redis) -> int:
        users = _users(redis, settings)
        token = await users.issue_token(args.name, actor=cli_actor(), expires=args.expires)
        grant = await users.grant(token)
        print(f"new API token for {args.name} (shown once; expires "
              f"{format_time(grant.expires)}):", file=sys.stderr)
        print(token)
        return 0

    return _run(settings, go)
