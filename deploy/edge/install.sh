#!/bin/sh
# Install (or upgrade) the Lookout CORE agent on Raspberry Pi OS / Debian. Idempotent: run it again to upgrade.
# Usage (as root, from a checkout of the repository):  sudo deploy/edge/install.sh
# Network: only pip, to fetch the agent's few Python dependencies. Nothing else is downloaded or contacted.
set -eu

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=/opt/lookout-core
VENV=$PREFIX/venv
USER_NAME=lookout-core
CONF_DIR=/etc/lookout-core
STATE_DIR=/var/lib/lookout-core
UNIT=/etc/systemd/system/lookout-core.service
PYTHON=${PYTHON:-/usr/bin/python3}

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run me as root (sudo $0)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "install.sh: needs Python 3.11+ with venv (apt-get install python3 python3-venv)" >&2
    exit 1
fi

# 1. A dedicated system user without a shell or a home, in the gpio group if the board has one.
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir "$STATE_DIR" --shell /usr/sbin/nologin "$USER_NAME"
fi
if getent group gpio >/dev/null 2>&1; then
    usermod -a -G gpio "$USER_NAME"
fi

# 2. Folders: config readable by the agent only, state private to it.
install -d -m 0755 "$PREFIX"
install -d -m 0750 -o root -g "$USER_NAME" "$CONF_DIR"
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$STATE_DIR"

# 3. The virtualenv: the agent's few dependencies, then the package itself without the servers' stack.
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r "$SRC/deploy/edge/requirements.txt"
"$VENV/bin/pip" install --quiet --no-deps --upgrade "$SRC"
"$VENV/bin/lookout-core" --version

# 4. Config (never overwritten), README, and the systemd unit.
if [ ! -e "$CONF_DIR/core.toml" ]; then
    install -m 0640 -o root -g "$USER_NAME" "$SRC/deploy/edge/core.toml.example" "$CONF_DIR/core.toml"
    echo "wrote $CONF_DIR/core.toml: edit it (cameras, PIN) before starting"
fi
install -m 0644 "$SRC/deploy/edge/README.md" "$PREFIX/README.md"
install -m 0644 "$SRC/deploy/edge/lookout-core.service" "$UNIT"
systemctl daemon-reload
systemctl enable lookout-core.service >/dev/null

if [ -e "$STATE_DIR/credentials.json" ]; then
    systemctl restart lookout-core.service
    echo "lookout-core restarted"
else
    echo "next: sudo -u $USER_NAME $VENV/bin/lookout-core enroll CODE --config $CONF_DIR/core.toml"
fi
