"""Offline check of an evidence bundle: standard library only, no settings, no database, no network.

A bundle is a ZIP holding `manifest.json`, `manifest.sha256` (the SHA-256 of manifest.json, sha256sum format)
and every file under `files/`. It is intact when the manifest's hash matches, every listed file is present with
the listed size and SHA-256, nothing else is in the archive, and no member name could escape the folder it is
unpacked into. Anyone can run this (`lookout evidence verify bundle.zip`, or `python verify.py bundle.zip`).

The manifest hash catches accidental corruption and careless edits. To prove the manifest is the one the registry
issued, `manifest.sig` carries the registry's signature over that hash (checked by signature.py against the
registry's published key set: `lookout evidence verify --jwks jwks.json`), and the same hash is in the
`evidence.exported` event of the registry's hash-chained audit log.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Any

MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
SIGNATURE = "manifest.sig"  # the registry's JWS over the manifest hash: see signature.py
FORMAT = "lookout-evidence-bundle/1"
CHUNK = 1024 * 1024
MAX_MANIFEST = 64 * 1024 * 1024


@dataclass
class FileResult:
    """One listed file: where it is and whether it is intact."""

    path: str
    ok: bool
    sha256: str
    problem: str | None = None


@dataclass
class Report:
    """Everything the check found: per-file results and problems with the bundle itself."""

    files: list[FileResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manifest_sha256: str | None = None
    case_number: str | None = None

    @property
    def ok(self) -> bool:
        """Intact: no problem with the bundle and every file checks out."""
        return not self.problems and all(f.ok for f in self.files)


def unsafe_name(name: str) -> str | None:
    """Why a member name could escape the unpacking folder (or None if it cannot)."""
    if not name or "\x00" in name:
        return "empty name or NUL in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' in path"
    return None


def _hash_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with bundle.open(info) as fh:
        while data := fh.read(CHUNK):
            size += len(data)
            if size > limit:  # a member inflating past its listed size: stop reading, it is wrong anyway
                break
            digest.update(data)
    return digest.hexdigest(), size


def _read_manifest(bundle: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], report: Report) -> Any:
    if MANIFEST not in members or MANIFEST_HASH not in members:
        report.problems.append(f"{MANIFEST} or {MANIFEST_HASH} is missing: not an evidence bundle")
        return None
    if members[MANIFEST].file_size > MAX_MANIFEST:
        report.problems.append(f"{MANIFEST} is implausibly large")
        return None
    raw = bundle.read(MANIFEST)
    report.manifest_sha256 = hashlib.sha256(raw).hexdigest()
    listed = bundle.read(MANIFEST_HASH).decode("ascii", "replace").split()
    if not listed or listed[0].lower() != report.manifest_sha256:
        report.problems.append(f"{MANIFEST} does not match {MANIFEST_HASH}: the manifest was changed")
    try:
        manifest = json.loads(raw)
    except ValueError:
        report.problems.append(f"{MANIFEST} is not valid JSON")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"),
                                                                                           list):
        report.problems.append(f"{MANIFEST} is not a {FORMAT} manifest")
        return None
    report.case_number = str(manifest.get("case_number"))
    return manifest


def _check_file(bundle: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], entry: Any) -> FileResult:
    if not isinstance(entry, dict):
        return FileResult("?", False, "", "a manifest entry is not an object")
    path, want, size = str(entry.get("path")), str(entry.get("sha256", "")).lower(), entry.get("size_bytes")
    if path not in members:
        return FileResult(path, False, "", "missing from the bundle")
    if not isinstance(size, int):
        return FileResult(path, False, "", "the manifest gives no size")
    try:
        got, got_size = _hash_member(bundle, members[path], size)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:  # e.g. its CRC no longer matches
        return FileResult(path, False, "", f"damaged in the archive: {exc}")
    if got_size != size:
        return FileResult(path, False, got, f"size differs: listed {size} bytes, bundle has "
                                            f"{'more' if got_size > size else got_size}")
    if got != want:
        return FileResult(path, False, got, f"SHA-256 differs: listed {want}, bundle has {got}")
    return FileResult(path, True, got)


def verify_bundle(path: str) -> Report:
    """Check one bundle file; never raises for a damaged or hostile bundle, reports it instead."""
    report = Report()
    try:
        bundle = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"cannot open as a ZIP archive: {exc}")
        return report
    with bundle:
        infos = bundle.infolist()
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            why = unsafe_name(info.filename)
            if why:
                report.problems.append(f"unsafe member name {info.filename!r}: {why}")
            if info.filename in members:
                report.problems.append(f"member {info.filename!r} appears twice")
            members[info.filename] = info
        try:
            manifest = _read_manifest(bundle, members, report)
            if manifest is None:
                return report
            listed = set()
            for entry in manifest["files"]:
                result = _check_file(bundle, members, entry)
                report.files.append(result)
                listed.add(result.path)
            extra = sorted(set(members) - listed - {MANIFEST, MANIFEST_HASH, SIGNATURE})
            report.problems.extend(f"{name} is in the bundle but not in the manifest" for name in extra)
        except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as exc:
            report.problems.append(f"the archive is damaged: {exc}")
    return report


def render(report: Report) -> list[str]:
    """Human-readable lines: one per file, then the verdict."""
    lines = [f"{'ok    ' if f.ok else 'FAILED'} {f.path}" + (f": {f.problem}" if f.problem else f"  sha256={f.sha256}")
             for f in report.files]
    lines.extend(f"FAILED {problem}" for problem in report.problems)
    if report.ok:
        lines.append(f"OK bundle intact: case {report.case_number}, {len(report.files)} files, "
                     f"manifest sha256={report.manifest_sha256}")
    else:
        bad = sum(not f.ok for f in report.files) + len(report.problems)
        lines.append(f"FAILED bundle not intact: {bad} problem(s)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python verify.py bundle.zip`: print the report; exit 0 when intact, 1 when not."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: verify.py BUNDLE.zip", file=sys.stderr)
        return 2
    report = verify_bundle(args[0])
    print("\n".join(render(report)))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
