"""The offline bundle check on hand-made bundles: what it accepts, every way it refuses, and that it needs nothing
but the standard library."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import services.registry.evidence.verify as verify_module
from services.registry.evidence.verify import FORMAT, render, unsafe_name, verify_bundle

FILES = {"files/1-a.mp4": b"\x00\x00\x00\x18ftypisom" + b"a" * 3000, "files/2-b.jpg": b"\xff\xd8\xff" + b"b" * 10}


def manifest_for(files: dict[str, bytes], **changes: Any) -> bytes:
    entries = [{"id": str(i), "path": name, "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()} for i, (name, data) in enumerate(files.items())]
    return json.dumps({"format": FORMAT, "case_number": "C-1", "files": entries, **changes}).encode()


def make_bundle(path: Path, files: dict[str, bytes] | None = None, *, manifest: bytes | None = None,
                manifest_hash: str | None = None, extra: dict[str, bytes] | None = None) -> Path:
    files = FILES if files is None else files
    raw = manifest if manifest is not None else manifest_for(files)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in {**files, **(extra or {})}.items():
            z.writestr(name, data)
        z.writestr("manifest.json", raw)
        z.writestr("manifest.sha256", f"{manifest_hash or hashlib.sha256(raw).hexdigest()}  manifest.json\n")
    return path


def problems(path: Path) -> str:
    report = verify_bundle(str(path))
    assert not report.ok
    return "\n".join(render(report))


def test_an_intact_bundle_passes(tmp_path: Path) -> None:
    report = verify_bundle(str(make_bundle(tmp_path / "b.zip")))
    assert report.ok and [f.path for f in report.files] == list(FILES)
    lines = render(report)
    assert lines[-1].startswith("OK bundle intact: case C-1, 2 files")
    assert lines[0] == f"ok     files/1-a.mp4  sha256={hashlib.sha256(FILES['files/1-a.mp4']).hexdigest()}"


def test_each_kind_of_damage_is_named(tmp_path: Path) -> None:
    changed = {**FILES, "files/2-b.jpg": b"\xff\xd8\xff" + b"c" * 10}
    assert "FAILED files/2-b.jpg: SHA-256 differs" in problems(make_bundle(tmp_path / "1.zip", changed,
                                                                           manifest=manifest_for(FILES)))
    longer = {**FILES, "files/2-b.jpg": FILES["files/2-b.jpg"] + b"!"}
    assert "FAILED files/2-b.jpg: size differs" in problems(make_bundle(tmp_path / "2.zip", longer,
                                                                        manifest=manifest_for(FILES)))
    assert "files/2-b.jpg: missing" in problems(make_bundle(tmp_path / "3.zip", {"files/1-a.mp4": FILES[
        "files/1-a.mp4"]}, manifest=manifest_for(FILES)))
    assert "files/x.exe is in the bundle but not in the manifest" in problems(
        make_bundle(tmp_path / "4.zip", extra={"files/x.exe": b"MZ"}))
    assert "manifest.json does not match manifest.sha256" in problems(
        make_bundle(tmp_path / "5.zip", manifest_hash="0" * 64))
    assert "not valid JSON" in problems(make_bundle(tmp_path / "6.zip", manifest=b"{nope"))
    assert "is not a lookout-evidence-bundle/1 manifest" in problems(
        make_bundle(tmp_path / "7.zip", manifest=manifest_for(FILES, format="other")))
    with zipfile.ZipFile(tmp_path / "8.zip", "w") as z:
        z.writestr("files/1-a.mp4", b"x")
    assert "missing: not an evidence bundle" in problems(tmp_path / "8.zip")
    (tmp_path / "9.zip").write_bytes(b"not a zip at all")
    assert "cannot open as a ZIP archive" in problems(tmp_path / "9.zip")


@pytest.mark.parametrize("name", ["../evil", "files/../../evil", "/etc/passwd", "C:/Windows/x", "files\\..\\x",
                                  "a/../b"])
def test_members_that_could_escape_are_refused(name: str, tmp_path: Path) -> None:
    assert unsafe_name(name)
    bundle = make_bundle(tmp_path / "b.zip", {**FILES, name: b"x"})
    assert "unsafe member name" in problems(bundle)


def test_duplicate_members_are_refused(tmp_path: Path) -> None:
    path = make_bundle(tmp_path / "b.zip")
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as z:
        z.writestr("files/1-a.mp4", b"shadow copy")
    assert "appears twice" in problems(path)


def test_safe_names_are_safe() -> None:
    for name in ("files/1-a.mp4", "manifest.json", "files/x..y.mp4", "files/caf\u00e9.mp4"):
        assert unsafe_name(name) is None, name


def test_it_runs_on_the_standard_library_alone(tmp_path: Path) -> None:
    # -I: no environment, no user site-packages, not even the current directory: just verify.py and Python.
    script = Path(verify_module.__file__)
    bundle = make_bundle(tmp_path / "b.zip")
    ok = subprocess.run([sys.executable, "-I", str(script), str(bundle)], capture_output=True, text=True,
                        cwd=tmp_path, timeout=60)
    assert ok.returncode == 0 and ok.stdout.splitlines()[-1].startswith("OK"), ok.stdout + ok.stderr
    bad = make_bundle(tmp_path / "bad.zip", manifest_hash="1" * 64)
    failed = subprocess.run([sys.executable, "-I", str(script), str(bad)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert failed.returncode == 1 and "manifest.json does not match" in failed.stdout

