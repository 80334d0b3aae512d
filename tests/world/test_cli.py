"""``rtcc world synth|check|show`` through rtcc.cli.main and one real subprocess."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtcc.cli import main
from rtcc.world.geojson import load_world
from tests.world.worlds import encode, mutate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """rtcc.cli.main configures the root logger onto this test's captured stderr; put it back
    so that later tests do not log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_synth_check_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.geojson"
    assert main(["world", "synth", "--households", "50", "--seed", "4", "-o", str(out)]) == 0
    world = load_world(out)
    assert len(world.households) == 50
    assert "wrote" in capsys.readouterr().err

    assert main(["world", "check", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{out}: valid world" in text
    assert "households      50" in text and "by consent:" in text and "bounds" in text

    assert main(["world", "check", "--json", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] is True and summary["households"]["total"] == 50
    assert sum(summary["cameras"]["by_type"].values()) == len(world.cameras)

    png = tmp_path / "w.png"
    assert main(["world", "show", str(out), "-o", str(png), "--views", "live"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_synth_is_deterministic_and_flags_matter(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.geojson", tmp_path / "b.geojson", tmp_path / "c.geojson"
    args = ["world", "synth", "--households", "30", "--seed", "9"]
    assert main([*args, "-o", str(a)]) == 0
    assert main([*args, "-o", str(b)]) == 0
    assert main([*args, "--live-rate", "0.5", "--camera-rate", "0.6", "--stream-width", "640",
                 "-o", str(c)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    world = load_world(c)
    assert {cam.width for cam in world.cameras.values() if cam.type == "doorbell"} == {640}


def test_synth_origin(tmp_path: Path) -> None:
    out = tmp_path / "dc.geojson"
    assert main(["world", "synth", "--households", "5", "--origin=-77.03,38.90", "-o",
                 str(out)]) == 0
    world = load_world(out)
    assert (world.projection.lon0, world.projection.lat0) == (-77.03, 38.9)
    with pytest.raises(SystemExit):
        main(["world", "synth", "--origin=500,1", "-o", str(out)])


def test_help_exits_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["world", "--help"], ["world", "check", "--help"], ["world", "show", "--help"]):
        with pytest.raises(SystemExit) as err:
            main(args)
        assert err.value.code == 0
    assert "visibility polygons" in capsys.readouterr().out


def test_synth_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["world", "synth", "--households", "5", "-o", "-"]) == 0
    data = capsysbinary.readouterr().out
    assert json.loads(data)["type"] == "FeatureCollection"


def test_bad_rates_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["world", "synth", "--live-rate", "0.6", "--request-rate", "0.6", "-o",
                 str(tmp_path / "x.geojson")])
    assert code == 2
    assert "must add up to at most 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["world", "synth", "--live-rate", "1.5", "-o", str(tmp_path / "x.geojson")])
    assert err.value.code == 2
    assert not (tmp_path / "x.geojson").exists()


def test_check_lists_problems_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(encode(mutate(f0={"consent": "maybe"}, f3={"direction": 400,
                                                               "household": "ghost"})))
    assert main(["world", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0] == f"rtcc world: {bad}: 3 problems"
    assert lines[1].startswith('features[0] (id "h1") field "consent"')
    assert lines[2].startswith('features[3] (id "c1") field "direction"')
    assert lines[3].startswith('features[3] (id "c1") field "household"')
    assert "Traceback" not in err


@pytest.mark.parametrize("make", ["missing", "directory", "junk", "empty", "truncated"])
def test_check_bad_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                make: str) -> None:
    target = tmp_path / "target"
    if make == "directory":
        target.mkdir()
    elif make == "junk":
        target.write_bytes(bytes(range(256)) * 4)
    elif make == "empty":
        target.write_bytes(b"")
    elif make == "truncated":
        target.write_bytes(encode(mutate())[:200])
    assert main(["world", "check", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rtcc world: {target}: 1 problem")
    assert main(["world", "show", str(target), "-o", str(tmp_path / "m.png")]) == 2


def test_show_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "w.geojson"
    src.write_bytes(encode(mutate()))
    code = main(["world", "show", str(src), "-o", str(src / "under-a-file" / "m.png")])
    assert code == 1
    assert "cannot write" in capsys.readouterr().err


def test_show_creates_the_output_directory(tmp_path: Path) -> None:
    src = tmp_path / "w.geojson"
    src.write_bytes(encode(mutate()))
    out = tmp_path / "new" / "dir" / "m.png"
    assert main(["world", "show", str(src), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_real_subprocess_exit_status_and_no_traceback(tmp_path: Path) -> None:
    rtcc = Path(sys.prefix) / "bin" / "rtcc"
    if not rtcc.exists():  # running from another interpreter than the project's venv
        rtcc = ROOT / ".venv" / "bin" / "rtcc"
    junk = tmp_path / "junk.geojson"
    junk.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(200))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
    proc = subprocess.run([str(rtcc), "world", "check", str(junk)], capture_output=True,
                          text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{junk}: 1 problem" in proc.stderr
    good = tmp_path / "good.geojson"
    proc = subprocess.run([str(rtcc), "world", "synth", "--households", "12", "-o", str(good)],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(rtcc), "world", "check", str(good)], capture_output=True,
                          text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0 and "valid world" in proc.stdout
