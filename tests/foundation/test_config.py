from pathlib import Path

import pytest

from rtcc.config import Settings
from rtcc.errors import ConfigError


def test_defaults_without_environment():
    s = Settings.load({}, environ={"HOME": "/home/ann"})
    assert s.redis_url == ""
    assert s.host == "127.0.0.1"
    assert s.port == 8080
    assert s.live_window == 10.0
    assert s.data_dir == Path("/home/ann/.local/share/rtcc")


def test_xdg_directories_are_respected():
    s = Settings.load({}, environ={"XDG_DATA_HOME": "/d", "XDG_RUNTIME_DIR": "/r"})
    assert s.data_dir == Path("/d/rtcc")
    assert s.run_dir == Path("/r/rtcc")


def test_flag_beats_environment_beats_default():
    env = {"RTCC_PORT": "9000", "RTCC_LOG_LEVEL": "debug"}
    s = Settings.load({"port": "9100"}, environ=env)
    assert s.port == 9100
    assert s.log_level == "debug"


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("RTCC_PORT", "eighty", "RTCC_PORT: expected an integer, got 'eighty'"),
        ("RTCC_PORT", "70000", "RTCC_PORT: expected a TCP port 0-65535, got '70000'"),
        ("RTCC_LIVE_WINDOW", "-1", "RTCC_LIVE_WINDOW: expected a value > 0, got '-1'"),
        ("RTCC_LIVE_WINDOW", "nan", "RTCC_LIVE_WINDOW: expected a finite number, got 'nan'"),
        ("RTCC_LOG_LEVEL", "loud", "RTCC_LOG_LEVEL: expected one of debug, info, warning, error"),
    ],
)
def test_bad_values_name_the_variable(var, value, message):
    with pytest.raises(ConfigError) as info:
        Settings.load({}, environ={var: value})
    assert str(info.value).startswith(message)


def test_bad_flag_names_the_flag():
    with pytest.raises(ConfigError, match=r"^--port: expected an integer"):
        Settings.load({"port": "x"}, environ={})


def test_unknown_rtcc_variable_is_an_error():
    with pytest.raises(ConfigError, match="RTCC_REDIS_ULR: unknown variable"):
        Settings.load({}, environ={"RTCC_REDIS_ULR": "redis://x"})


def test_secrets_are_never_printed():
    s = Settings.load({}, environ={"RTCC_REDIS_URL": "redis://user:hunter2@127.0.0.1:6390/0"})
    assert s.redis_url.endswith("@127.0.0.1:6390/0")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s.describe())
    assert "user:***@127.0.0.1:6390" in repr(s)


def test_bad_secret_value_is_not_echoed():
    with pytest.raises(ConfigError) as info:
        Settings.load({}, environ={"RTCC_REDIS_URL": "http://:hunter2@x"})
    assert "hunter2" not in str(info.value)
    assert "RTCC_REDIS_URL: expected a redis://" in str(info.value)


def test_settings_are_frozen():
    s = Settings.load({}, environ={})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
