"""The committed generated code is exactly what `make proto` makes from the .proto file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GENERATED = ("lookout/v1/lookout_pb2.py", "lookout/v1/lookout_pb2.pyi")


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"), f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", str(ROOT / "proto/lookout/v1/lookout.proto")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for name in GENERATED:
        fresh, committed = (tmp_path / name).read_text(), (ROOT / "proto" / name).read_text()
        assert fresh == committed, f"proto/{name} is stale: run `make proto` and commit the result"
