"""docker-compose.yml, checked without a Docker engine: the Compose Specification's JSON schema
(vendored, tests/deploy/compose-spec.json), every reference inside the file, every rtcc command
against rtcc's own argparse, every RTCC_* variable against rtcc's strict settings loader, the
published ports, and the Dockerfile's entry point."""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rtcc.cli import build_parser
from rtcc.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def load() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())  # PyYAML's safe loader resolves << merge keys
    assert isinstance(doc, dict)
    return doc


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${VAR:-default}`` with ``env`` (default: nothing set)."""
    env = env or {}
    return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)


def env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def services() -> dict[str, dict[str, Any]]:
    return load()["services"]


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load())]
    assert errors == []
    # The schema does catch mistakes (so the check above can fail).
    broken = copy.deepcopy(load())
    broken["services"]["hub"]["depends_on"]["redis"]["condition"] = "service_ready"
    broken["services"]["wall"]["portz"] = ["8080"]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_references_exist() -> None:
    doc = load()
    svcs = doc["services"]
    volumes, networks = set(doc.get("volumes", {})), set(doc.get("networks", {}))
    profiles = {p for s in svcs.values() for p in s.get("profiles", [])}
    assert profiles == {"cluster"}
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        for dep, spec in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            assert dep in svcs, f"{name} depends on unknown service {dep}"
            assert dep != name
            dep_profiles = set(svcs[dep].get("profiles", []))
            own_profiles = set(svc.get("profiles", []))
            if dep_profiles and not dep_profiles & own_profiles:
                # A dependency that only exists in a profile must be optional for the others.
                assert spec.get("required") is False, f"{name} -> {dep} must be required: false"
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} uses undeclared volume {source}"
        for net in svc.get("networks", []):
            assert net in networks, f"{name} uses undeclared network {net}"
        assert svc.get("networks"), f"{name} is on no network"
    used = {m.split(":")[0] for s in svcs.values() for m in s.get("volumes", [])}
    assert volumes <= used, f"declared but unused volumes: {volumes - used}"


def test_only_loopback_ports_are_published() -> None:
    published = []
    for name, svc in services().items():
        for port in svc.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
            published.append(port)
    assert "127.0.0.1:8080:8080" in published  # the wall
    assert "hub" not in {n for n, s in services().items() if s.get("ports")}  # scalable


def _rtcc_commands() -> list[tuple[str, list[str]]]:
    out = []
    for name, svc in services().items():
        command = svc.get("command")
        if isinstance(command, list) and command and command[0] == "rtcc":
            out.append((name, [interpolate(str(a)) for a in command[1:]]))
    # The seeding script's rtcc lines, with its shell variables as placeholders.
    for line in (ROOT / "deploy" / "seed.sh").read_text().splitlines():
        line = line.strip()
        if line.startswith("rtcc "):
            # A variable becomes its default (``${X:-60}``), else a placeholder word.
            args = [re.sub(r"\$\{?(\w+)(?::-([^}]*))?\}?",
                           lambda m: m.group(2) or f"PLACEHOLDER_{m.group(1)}", a)
                    for a in shlex.split(line)]
            out.append(("seed.sh", args[1:]))
    return out


def test_every_rtcc_command_parses_with_rtccs_argparse() -> None:
    commands = _rtcc_commands()
    kinds = {tuple(args[:1]) for _n, args in commands}
    assert {("serve",), ("sim",), ("registry",), ("world",)} <= kinds
    parser = build_parser()
    roles = set()
    for name, args in commands:
        try:
            parsed = parser.parse_args(args)
        except SystemExit as err:  # argparse reports the problem on stderr
            raise AssertionError(f"{name}: rtcc {' '.join(args)} does not parse") from err
        if parsed.command == "serve":
            roles.add(parsed.role)
    assert roles == {"hub", "wall", "analyzer"}


def _environments() -> list[tuple[str, dict[str, str]]]:
    cluster = env_file(ROOT / "deploy" / "cluster.env")
    out = []
    for name, svc in services().items():
        env = svc.get("environment") or {}
        for label, outer in (("default", {}), ("cluster", cluster)):
            out.append((f"{name}/{label}", {k: interpolate(str(v), outer) for k, v in env.items()}))
    return out


def test_every_rtcc_variable_is_a_known_setting() -> None:
    seen = set()
    for name, env in _environments():
        rtcc_env = {k: v for k, v in env.items() if k.startswith("RTCC_")}
        seen |= set(rtcc_env)
        # The strict loader refuses unknown RTCC_* names and bad values.
        try:
            Settings.load({}, environ=rtcc_env)
        except Exception as err:
            raise AssertionError(f"{name}: {err}") from err
    assert {"RTCC_REDIS_URL", "RTCC_LIVE_REDIS_URL", "RTCC_HOST"} <= seen
    with pytest.raises(Exception, match="RTCC_NOT_A_SETTING"):
        Settings.load({}, environ={"RTCC_NOT_A_SETTING": "1"})


def test_cluster_profile_points_the_live_redis_at_the_cluster() -> None:
    svcs = services()
    cluster_nodes = {n for n, s in svcs.items() if "cluster" in s.get("profiles", [])
                     and "--cluster-enabled" in s.get("command", [])}
    assert len(cluster_nodes) == 6
    init = svcs["redis-cluster-init"]
    assert set(init["environment"]["CLUSTER_NODES"].split()) == cluster_nodes
    assert set(init["depends_on"]) == cluster_nodes
    script = (ROOT / "deploy" / "redis-cluster-init.sh").read_text()
    assert "--cluster create" in script and "--cluster-replicas 1" in script
    from rtcc.connections import parse_cluster_url

    url = env_file(ROOT / "deploy" / "cluster.env")["RTCC_LIVE_REDIS_URL"]
    parsed = parse_cluster_url(url)
    assert parsed is not None, "the cluster URL must name several seed nodes"
    assert {host for host, _port in parsed.seeds} <= cluster_nodes
    for name in ("hub", "wall", "analyzer"):
        assert interpolate(svcs[name]["environment"]["RTCC_LIVE_REDIS_URL"],
                           {"RTCC_LIVE_REDIS_URL": url}) == url
        assert interpolate(svcs[name]["environment"]["RTCC_LIVE_REDIS_URL"]) == \
            "redis://redis-live:6379/0"


def test_dockerfile_builds_the_rtcc_entry_point() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0].startswith("FROM python:3.11")
    copies = [ln.split()[1:-1] for ln in lines if ln.startswith("COPY ")]
    for sources in copies:
        for src in sources:
            assert (ROOT / src).exists(), f"COPY of missing {src}"
    copied = {s for sources in copies for s in sources}
    assert {"pyproject.toml", "setup.py", "rtcc", "simulators", "deploy"} <= copied
    assert any("pip install" in ln and " . " in ln + " " for ln in lines)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["rtcc"] == "rtcc.cli:main"
    cmd = next(ln for ln in lines if ln.startswith("CMD "))
    args = json.loads(cmd[4:])
    assert args[0] == "rtcc"
    build_parser().parse_args(args[1:])
    assert "EXPOSE 8080" in lines
    # Every rtcc service of the compose file is built from this Dockerfile.
    for name, svc in services().items():
        if (svc.get("command") or [""])[0] in ("rtcc", "sh") and "image" in svc and \
                svc["image"] == "rtcc:local":
            assert svc.get("build") == ".", name
