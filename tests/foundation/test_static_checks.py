"""ruff and mypy over the whole project, as part of the suite (so CI checks them): the
configuration of both is in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.foundation.floors import ROOT

pytestmark = pytest.mark.slow


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    out = _run("ruff", "check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.timeout(600)
def test_mypy_finds_nothing() -> None:
    out = _run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_package_says_it_is_typed() -> None:
    assert (ROOT / "rtcc" / "py.typed").is_file()
