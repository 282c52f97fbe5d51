"""The layering rules of DEVELOPERS.md, enforced by import-linter (contracts in .importlinter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_importing_an_app_builds_nothing() -> None:
    # A fresh interpreter importing the app module must open no database and create no key file.
    code = ("import os, services.registry.app, services.registry.cli, services.alerts.app; "
            "print(os.path.exists('var/registry.db'), os.path.exists('var/registry-signing-key.pem'), "
            "os.path.exists('var/alerts.db'))")
    result = subprocess.run([sys.executable, "-c", code], cwd="/tmp", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False False"
