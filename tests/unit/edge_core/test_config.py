"""core.toml validation: clear messages, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_core.config import ConfigError, LiveConfig, load_config, parse_config

GOOD = """
data_dir = "state"
registry_url = "https://registry.example.org/"

[broker]
host = "mqtt.example.org"
port = 8883
tls = true
ca_file = "/etc/lookout-core/ca.pem"

[[cameras]]
camera_id = "cam-front"
rtsp_url = "rtsp://admin:s3cret@192.168.1.20:554/stream1"
label = "Front door"

[panic.gpio]
pin = 17

[panic.lan]
bind = "0.0.0.0"
port = 8080
pin = "482913"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "core.toml"
    path.write_text(text)
    return path


def test_a_full_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.data_dir == tmp_path / "state"
    assert config.credentials_file == tmp_path / "state" / "credentials.json"
    assert config.registry_url == "https://registry.example.org"
    assert config.broker.port == 8883 and config.broker.tls is True
    assert config.cameras[0].camera_id == "cam-front"
    assert config.gpio is not None and config.gpio.pin == 17 and config.gpio.min_interval_s == 2.0
    assert config.lan is not None and config.lan.port == 8080
    assert config.cli_panic is True
    assert "s3cret" not in repr(config) and "482913" not in repr(config)


def test_minimal_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'data_dir = "/var/lib/lookout-core"\n'))
    assert config.cameras == () and config.gpio is None and config.lan is None
    assert config.broker.host is None


@pytest.mark.parametrize(("text", "message"), [
    ("", "data_dir: required"),
    ('data_dir = "x"\ncolour = 1\n', "colour: unknown key"),
    ('data_dir = "x"\nregistry_url = "http://registry.example.org"\n', "plain http is only allowed"),
    ('data_dir = "x"\nregistry_url = "ftp://x"\n', "registry_url: must be an https:// URL"),
    ('data_dir = "x"\n[broker]\nport = 70000\n', "broker.port: required, must be an integer from 1 to 65535"),
    ('data_dir = "x"\n[broker]\ntls = "yes"\n', "broker.tls: must be true or false"),
    ('data_dir = "x"\n[[cameras]]\ncamera_id = "a/b"\nrtsp_url = "rtsp://h/s"\n', "cameras[0].camera_id"),
    ('data_dir = "x"\n[[cameras]]\ncamera_id = "a"\n', "cameras[0].rtsp_url: required"),
    ('data_dir = "x"\n[[cameras]]\ncamera_id = "a"\nrtsp_url = "rtsp://h/s"\n[[cameras]]\ncamera_id = "a"\n'
     'rtsp_url = "rtsp://h/t"\n', "camera_id values must be unique"),
    ('data_dir = "x"\n[panic.gpio]\npin = 99\n', "panic.gpio.pin"),
    ('data_dir = "x"\n[panic.lan]\npin = "12"\n', "panic.lan.pin: must be 6 to 64"),
    ('data_dir = "x"\n[panic.lan]\npin = "123456"\nbind = "my-host"\n', "panic.lan.bind: must be an IP address"),
    ('data_dir = "x"\n[panic.lan]\npin = "123456"\nport = "80"\n', "panic.lan.port"),
    ('data_dir = "x"\n[panic.sms]\n', "panic.sms: unknown key"),
    ('data_dir = "x"\nreconnect_base_s = 10\nreconnect_cap_s = 5\n', "reconnect_cap_s"),
    ('data_dir = "x"\noutbox_poll_s = true\n', "outbox_poll_s: must be a number"),
    ('data_dir = "x"\n[live]\nwarm = true\n', "live.warm: unknown key"),
    ('data_dir = "x"\n[live]\nwarm_standby = 1\n', "live.warm_standby: must be true or false"),
    ('data_dir = "x"\n[live]\nmax_sessions = 0\n', "live.max_sessions: required, must be an integer from 1 to 32"),
    ('data_dir = "x"\n[live]\nanswer_timeout_s = 0.1\n', "live.answer_timeout_s: must be a number"),
    ('data_dir = "x"\n[live]\ngop_cache_max_bytes = 1000\n', "live.gop_cache_max_bytes"),
    ('data_dir = "x"\n[live]\nqueue_max_packets = 2\n', "live.queue_max_packets"),
    ('data_dir = "x"\n[live]\nice_host_addresses = "127.0.0.1"\n', "live.ice_host_addresses: must be an array"),
    ('data_dir = "x"\n[live]\nice_host_addresses = ["eth0"]\n', "'eth0' is not an IP address"),
    ('data_dir = "x"\n[live]\nled_pin = 40\n', "live.led_pin"),
    ('data_dir = "x"\nlive = 3\n', "live: must be a table"),
    ('data_dir = "x"\n[[cameras]]\ncamera_id = "a"\nrtsp_url = "rtsp://h/s"\nwarm_standby = "yes"\n',
     "cameras[0].warm_standby: must be true or false"),
])
def test_invalid_configs_say_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_live_defaults_and_overrides(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.live == LiveConfig() and config.live.max_sessions == 4 and not config.live.warm(config.cameras[0])
    assert config.policy_path == tmp_path / "state" / "live-policy.json"
    text = GOOD + (
        '[[cameras]]\ncamera_id = "cam-back"\nrtsp_url = "rtsp://10.0.0.2/1"\nwarm_standby = false\n'
        "[live]\nwarm_standby = true\nmax_sessions = 2\nanswer_timeout_s = 5\nrtsp_timeout_s = 3\n"
        'gop_cache_max_bytes = 1048576\nqueue_max_packets = 50\nice_host_addresses = ["127.0.0.1", "::1"]\n'
        "led_pin = 27\n")
    config = load_config(write(tmp_path, text))
    live = config.live
    assert (live.max_sessions, live.answer_timeout_s, live.rtsp_timeout_s) == (2, 5.0, 3.0)
    assert (live.gop_cache_max_bytes, live.queue_max_packets, live.led_pin) == (1048576, 50, 27)
    assert live.ice_host_addresses == ("127.0.0.1", "::1")
    assert [live.warm(c) for c in config.cameras] == [True, False]  # the camera's own setting wins


def test_camera_url_is_never_echoed_in_errors() -> None:
    raw = {"data_dir": "/x", "cameras": [{"camera_id": "a", "rtsp_url": "http://admin:s3cret@cam/stream"}]}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert "s3cret" not in str(info.value) and "rtsp_url" in str(info.value)


def test_pin_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"data_dir": "/x", "panic": {"lan": {"pin": "12\u00e9345"}}})
    assert "\u00e9" not in str(info.value)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "data_dir = \n"))
