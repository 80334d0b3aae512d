"""The README contract: it opens with two one-line commands, demo then tests; CI runs the second."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _blocks() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    return [[line for line in body.splitlines() if line.strip()]
            for body in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)]


def test_readme_opens_with_demo_then_test_command():
    blocks = _blocks()
    assert blocks[0] == ["./run demo"]
    assert blocks[1] == ["./run test"]


def test_ci_runs_the_readme_test_command_and_nothing_else():
    lines = [line for line in (ROOT / ".ci/run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == "exec ./run test"
    assert all(line.startswith(("set ", "cd ")) for line in lines[:-1])
