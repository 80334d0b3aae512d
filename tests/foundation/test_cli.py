"""The command line: --help and --version everywhere, one-line errors, no tracebacks."""

import subprocess
import sys

import pytest

from rtcc import __version__
from rtcc.cli import COMMAND_MODULES, build_parser, main


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"rtcc {__version__}"


def test_help_lists_every_command_and_the_settings(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in COMMAND_MODULES:
        assert name in out
    assert "RTCC_REDIS_URL" in out


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: rtcc {command}" in capsys.readouterr().out


def test_contract_commands_exist():
    names = set(_subcommands())
    assert {"demo", "serve", "world"} <= names


def test_bad_setting_is_one_line_exit_2(capsys):
    assert main(["config", "--log-level", "loud"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("rtcc config: --log-level: expected one of debug, info, warning, error, "
                   "got 'loud'")


def test_config_never_prints_the_redis_password(capsys, monkeypatch):
    monkeypatch.setenv("RTCC_REDIS_URL", "redis://:hunter2@127.0.0.1:6390/0")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "redis://:***@127.0.0.1:6390/0" in out


def test_console_script_runs():
    exe = sys.executable.replace("python", "rtcc")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == f"rtcc {__version__}"
