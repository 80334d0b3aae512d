"""Scale-out settings: roles, worker ids, lease settings, and what ``rtcc serve`` builds of them."""

from __future__ import annotations

import pytest

from rtcc.cli import build_parser, settings_from_args
from rtcc.cli.serve import hub_config_from_args
from rtcc.config import Settings
from rtcc.errors import ConfigError
from rtcc.ingest.ownership import sharding_from_settings


def test_role_and_worker_id_from_flags_and_environment() -> None:
    s = Settings.load({}, environ={"RTCC_ROLE": "Hub", "RTCC_WORKER_ID": "hub-7"})
    assert (s.role, s.worker_id) == ("hub", "hub-7")
    assert Settings.load({}, environ={}).role == "all"
    with pytest.raises(ConfigError, match="RTCC_ROLE: expected one of all, hub, wall, analyzer"):
        Settings.load({}, environ={"RTCC_ROLE": "ingest"})
    with pytest.raises(ConfigError, match="--worker-id"):
        Settings.load({"worker_id": "a{b}"}, environ={})


def test_serve_flags_build_the_lease_settings() -> None:
    args = build_parser().parse_args(["serve", "--role", "hub", "--worker-id", "w1",
                                      "--lease-ttl", "9", "--lease-renew", "3"])
    settings = settings_from_args(args)
    config = hub_config_from_args(args, settings)
    assert config.sharding is not None
    assert (config.sharding.worker_id, config.sharding.lease_ttl,
            config.sharding.renew_interval) == ("w1", 9.0, 3.0)
    off = settings_from_args(build_parser().parse_args(["serve", "--sharding", "off"]))
    assert hub_config_from_args(args, off).sharding is None
    # A renew interval too close to the TTL is refused with the reason.
    with pytest.raises(ConfigError, match="third of the lease TTL"):
        sharding_from_settings(Settings.load({"hub_lease_ttl": "4"}, environ={}))


def test_default_worker_id_is_hostname_pid() -> None:
    config = sharding_from_settings(Settings.load({}, environ={}))
    assert config is not None
    host, pid = config.worker_id.rsplit("-", 1)
    assert host and pid.isdigit()
