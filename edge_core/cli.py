"""`lookout-core`: run the agent, enrol the box, or record a panic press from the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge_core import FIRMWARE, wake
from edge_core.config import Config, ConfigError, load_config
from edge_core.credentials import CredentialsError
from edge_core.enroll import EnrollError, enroll
from edge_core.outbox import Outbox
from proto.lookout.v1 import lookout_pb2 as pb

DEFAULT_CONFIG = "/etc/lookout-core/core.toml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lookout-core", description="Lookout CORE agent")
    parser.add_argument("--version", action="version", version=FIRMWARE)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the agent (as the systemd service does)")
    enrol = sub.add_parser("enroll", help="enrol this box with a one-time code from the owner portal")
    enrol.add_argument("code", help="the enrolment code")
    enrol.add_argument("--registry", help="registry URL (default: registry_url from the config)")
    enrol.add_argument("--force", action="store_true", help="replace existing credentials")
    panic = sub.add_parser("panic", help="record a panic press (sent by the running agent)")
    for p in (run, enrol, panic):
        p.add_argument("--config", default=DEFAULT_CONFIG, help=f"configuration file (default {DEFAULT_CONFIG})")
        p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def cmd_enroll(config: Config, code: str, registry: str | None, force: bool) -> int:
    """Enrol the box and store its credentials."""
    url = registry or config.registry_url
    if not url:
        raise ConfigError("no registry URL: pass --registry or set registry_url in the config")
    creds = enroll(code, url, config.credentials_file, force=force)
    print(f"enrolled as device {creds.device_id} (site {creds.site_id}); credentials in {config.credentials_file}")
    for camera in creds.cameras:
        print(f"  camera {camera.get('camera_id')}: {camera.get('label', '')} ({camera.get('sharing_mode', '?')})")
    return 0


def cmd_panic(config: Config) -> int:
    """Record a press in the outbox and wake a running agent."""
    if not config.cli_panic:
        print("the command-line panic input is disabled in the config ([panic.cli] enabled = false)", file=sys.stderr)
        return 2
    with Outbox(config.outbox_path) as outbox:
        pressed = outbox.add(pb.TRIGGER_KIND_CLI)
    when = pressed.pressed_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    print(f"panic recorded at {when} (event {pressed.event_id})")
    if not wake.poke(config.wake_socket):
        print("no running agent answered; it will be sent as soon as `lookout-core run` is up", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lookout-core` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mqtt").setLevel(logging.WARNING)
    logging.getLogger("aioice").setLevel(logging.WARNING)  # every ICE check of every session otherwise
    try:
        config = load_config(Path(args.config))
        if args.command == "enroll":
            return cmd_enroll(config, args.code, args.registry, args.force)
        if args.command == "panic":
            return cmd_panic(config)
        from edge_core.agent import run

        run(config)
        return 0
    except (ConfigError, CredentialsError, EnrollError) as exc:
        print(f"lookout-core: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

