"""Sources files (TOML/JSON) with precise errors, and sources from the registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import ConfigError
from rtcc.ingest.sources import Source, load_registry_sources, load_sources_file
from rtcc.registry.store import Registry
from tests.ingest.conftest import register

TOML = """
[[cameras]]
id = "cam-0001"
url = "rtsp://viewer:s3cret@127.0.0.1:8554/cams/cam-0001"

[[cameras]]
id = "door-7"
whip = true
token = "tok"

[[cameras]]
id = "cam-0002"
url = "rtsp://127.0.0.1:8554/cams/cam-0002"
transport = "udp"
"""


def test_toml_and_json_files(tmp_path: Path) -> None:
    toml = tmp_path / "sources.toml"
    toml.write_text(TOML)
    sources = load_sources_file(toml)
    assert [s.id for s in sources] == ["cam-0001", "door-7", "cam-0002"]
    assert sources[1] == Source("door-7", whip=True, token="tok")
    assert sources[2].transport == "udp" and sources[0].transport == "tcp"
    assert "s3cret" not in repr(sources[0]) and sources[0].redacted.startswith("rtsp://viewer:***@")
    js = tmp_path / "cams.json"
    js.write_text('[{"id": "a", "url": "rtsp://127.0.0.1/a"}, {"id": "b", "whip": true}]')
    assert [s.kind for s in load_sources_file(js)] == ["rtsp", "whip"]
    wrapped = tmp_path / "cams.txt"  # no known extension: TOML first, then JSON
    wrapped.write_text('{"cameras": [{"id": "a", "url": "rtsp://127.0.0.1/a"}]}')
    assert load_sources_file(wrapped)[0].id == "a"


@pytest.mark.parametrize(("body", "message"), [
    ('[{"id": "a"}]', "camera 0 (a): give exactly one of 'url'"),
    ('[{"id": "a", "url": "rtsp://h/a", "whip": true}]', "camera 0 (a): give exactly one"),
    ('[{"id": "a", "url": "http://h/a"}]', "camera 0 (a): field 'url': expected rtsp://"),
    ('[{"id": "a", "url": "rtsp://h:99999/a"}]', "field 'url': bad port"),
    ('[{"id": "a", "url": "rtsps://h/a"}]', "rtsps (RTSP over TLS) is not supported"),
    ('[{"id": "", "url": "rtsp://h/a"}]', "camera 0: field 'id'"),
    ('[{"id": "a{b}", "url": "rtsp://h/a"}]', "may not contain braces"),
    ('[{"id": "a", "url": "rtsp://h/a"}, {"id": "a", "whip": true}]',
     "camera 1 (a): duplicate id (first at camera 0)"),
    ('[{"id": "a", "url": "rtsp://h/a", "transport": "sctp"}]', "field 'transport'"),
    ('[{"id": "a", "whip": "yes"}]', "field 'whip': expected true or false"),
    ('[{"id": "a", "whip": true, "token": ""}]', "field 'token'"),
    ('[{"id": "a", "whip": true, "colour": "red"}]', "unknown field 'colour'"),
    ('{"cams": []}', "unknown top-level key 'cams'"),
    ('[1]', "camera 0: expected a table/object"),
    ('[{"id": "a",', "invalid JSON at line 1"),
])
def test_errors_name_file_camera_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_sources_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read sources file"):
        load_sources_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[cameras]\nid=")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_sources_file(bad)


def test_credentials_never_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('[{"id": "a", "url": "http://u:topsecret@h/a"}]')
    with pytest.raises(ConfigError) as info:
        load_sources_file(path)
    assert "topsecret" not in str(info.value)


async def test_registry_sources(redis: aredis.Redis, registry: Registry) -> None:
    await register(registry, ["r-1", "r-2", "r-3", "r-4"])
    from rtcc.registry.audit import Actor

    admin = Actor("admin", "admin")
    await registry.set_source("r-1", "rtsp://127.0.0.1:8554/cams/r-1", actor=admin)
    await registry.set_source("r-2", "whip", actor=admin)
    await registry.set_source("r-3", "https://example.invalid/not-rtsp", actor=admin)
    await redis.hset(keys.camera("r-2"), "whip_token", "tok-2")
    sources = await load_registry_sources(redis)
    # r-3's source is not something the hub can pull: skipped with a warning; r-4 has none.
    assert sources == [Source("r-1", url="rtsp://127.0.0.1:8554/cams/r-1"),
                       Source("r-2", whip=True, token="tok-2")]


def test_rtcc_serve_rejects_a_bad_sources_file_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from rtcc.cli import main

    bad = tmp_path / "cams.toml"
    bad.write_text('[[cameras]]\nid = "cam-1"\nurl = "http://127.0.0.1/x"\n')
    code = main(["serve", "--data-dir", str(tmp_path / "d"), "--run-dir", str(tmp_path / "r"),
                 "--sources", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{bad}: camera 0 (cam-1): field 'url': expected rtsp://" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as info:
        main(["serve", "--reconnect-rate", "-5"])
    assert info.value.code == 2
    assert "expected a number > 0" in capsys.readouterr().err
