"""`python -m demo` runs the demo; `python -m demo watch` follows the alert feed; `... panic` presses the button."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from demo import config


def main(argv: list[str]) -> None:
    """Dispatch the demo's sub-commands."""
    command = argv[0] if argv else "run"
    if command == "run":
        from demo.run import run

        run()
    elif command == "watch":
        from demo.watch import watch

        with contextlib.suppress(KeyboardInterrupt):
            watch()
    elif command == "consent":
        from demo.consent import consent

        consent()
    elif command == "live":
        from demo.watch import live_link

        live_link()
    elif command == "panic":
        core = Path(sys.executable).parent / "lookout-core"
        subprocess.run([str(core), "panic", "--config", str(config.CORE_CONFIG)], check=True)
    else:
        sys.exit(f"unknown command {command!r}: use run, watch, live, consent or panic")


main(sys.argv[1:])
