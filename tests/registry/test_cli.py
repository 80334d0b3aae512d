"""``rtcc registry|audit|users`` through ``rtcc.cli.main`` and one real subprocess."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from rtcc import keys
from rtcc.cli import main

from .test_import import world_doc


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """rtcc.cli.main configures the root logger onto the captured stderr; put it back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def url(redis_url: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    yield redis_url


def rtcc(url: str, *args: str) -> int:
    return main([*args, "--redis-url", url])


def test_the_registry_from_the_command_line(url: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    world = tmp_path / "world.geojson"
    world.write_text(json.dumps(world_doc()))
    assert rtcc(url, "users", "add", "root", "--role", "admin") == 0
    out, err = capsys.readouterr()
    assert out.strip().startswith("rtcc_") and "shown once" in err

    assert rtcc(url, "registry", "import", str(world)) == 0
    out, _ = capsys.readouterr()
    assert "2 households; cameras: 3 created" in out

    monkeypatch.setattr(sys, "stdin", io.StringIO("a long passphrase\n"))
    assert rtcc(url, "users", "add", "alice", "--role", "resident", "--household", "h1",
                "--password-stdin") == 0
    capsys.readouterr()

    # A resident opts in and out through the CLI, as herself.
    assert rtcc(url, "registry", "set", "cam-1", "live", "--schedule", "20:00-06:00",
                "--expires", "2h", "--reason", "vacation", "--as", "alice") == 0
    out, _ = capsys.readouterr()
    assert out.split()[:4] == ["cam-1", "h1", "doorbell", "live"]
    assert rtcc(url, "registry", "revoke", "cam-1", "--as", "alice") == 0
    capsys.readouterr()
    assert rtcc(url, "registry", "show", "cam-1", "--history", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["tier"] == "none"
    assert [h["kind"] for h in shown["history"]] == ["import", "set", "revoke"]
    assert shown["history"][0]["actor"].startswith("cli:")  # the OS user, as an admin
    assert [h["actor"] for h in shown["history"][1:]] == ["alice", "alice"]

    # Refusals: exit 2, one line, nothing written.
    client = redis.Redis.from_url(url)
    version = client.get(keys.CONSENT_VERSION)
    for args, message in [
        (("registry", "set", "cam-2", "live", "--as", "alice"), "another household"),
        (("registry", "set", "cam-1", "bogus"), "unknown tier 'bogus'"),
        (("registry", "set", "cam-1", "live", "--expires", "whenever"), "expires"),
        (("registry", "show", "cam-9"), "unknown camera 'cam-9'"),
        (("registry", "set", "cam-1", "live", "--as", "nobody"), "unknown user 'nobody'"),
    ]:
        assert rtcc(url, *args) == 2, args
        _, err = capsys.readouterr()
        assert message in err and "Traceback" not in err, err
    assert client.get(keys.CONSENT_VERSION) == version

    assert rtcc(url, "registry", "list", "--tier", "live") == 0
    out, _ = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["cam-2", "city-9"]

    export = tmp_path / "registry.json"
    assert rtcc(url, "registry", "export", "-o", str(export), "--history") == 0
    doc = json.loads(export.read_text())
    assert len(doc["cameras"]) == 3 and len(doc["history"]) == 5

    assert rtcc(url, "users", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["name"], u["role"], u["has_password"]) for u in listed] == [
        ("alice", "resident", True), ("root", "admin", False)]
    assert rtcc(url, "users", "revoke", "alice") == 0
    capsys.readouterr()
    assert rtcc(url, "registry", "set", "cam-1", "live", "--as", "alice") == 2
    assert "revoked" in capsys.readouterr().err
    client.close()


def test_audit_verify_and_export(url: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    world = tmp_path / "world.geojson"
    world.write_text(json.dumps(world_doc()))
    assert rtcc(url, "registry", "import", str(world)) == 0
    assert rtcc(url, "registry", "set", "cam-1", "live") == 0
    assert rtcc(url, "registry", "set", "cam-1", "registry") == 0
    capsys.readouterr()
    assert rtcc(url, "audit", "verify") == 0
    assert "audit log intact: 3 entries" in capsys.readouterr().out

    csv_path = tmp_path / "audit.csv"
    assert rtcc(url, "audit", "export", "--format", "csv", "--since", "2000-01-01",
                "-o", str(csv_path)) == 0
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "seq,ts,actor,role,ip,event,subject,details,prev,hash"
    assert [line.split(",")[5] for line in lines[1:]] == [
        "registry.import", "consent.set", "consent.set"]
    json_path = tmp_path / "audit.json"
    assert rtcc(url, "audit", "export", "--format", "json", "--until", "2000-01-01",
                "-o", str(json_path)) == 0
    assert json.loads(json_path.read_text())["entries"] == []  # nothing before 2000
    assert rtcc(url, "audit", "export", "--since", "last year", "-o", "-") == 2
    capsys.readouterr()

    # Tamper: edit the second entry's details with a raw Redis command.
    client = redis.Redis.from_url(url)
    entry = json.loads(client.lindex(keys.AUDIT_LOG, 1))  # type: ignore[arg-type]
    entry["details"]["tier"] = "none"
    client.lset(keys.AUDIT_LOG, 1, json.dumps(entry))
    client.close()
    assert rtcc(url, "audit", "verify") == 2
    err = capsys.readouterr().err
    assert "TAMPERED: seq 2 at index 1 was edited" in err
    assert rtcc(url, "audit", "verify", "--json") == 2
    problem = json.loads(capsys.readouterr().out)["problem"]
    assert (problem["kind"], problem["seq"]) == ("edited", 2)


def test_bad_world_file_and_real_subprocess(url: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [}')
    assert rtcc(url, "registry", "import", str(bad)) == 2
    assert "line 1 column" in capsys.readouterr().err
    exe = Path(sys.executable).with_name("rtcc")
    proc = subprocess.run([str(exe), "registry", "set", "cam-1", "sometimes", "--redis-url",
                           url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown camera 'cam-1'" in proc.stderr and "Traceback" not in proc.stderr
