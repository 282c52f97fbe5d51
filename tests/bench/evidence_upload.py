"""Evidence upload benchmark: a 100 MiB and a 1 GiB file through the real HTTP API, against a floor.

The registry runs under uvicorn in its own process (SQLite, local evidence folder). An owner uploads a generated
file (a valid MP4 header, then pseudo-random bytes made on the fly, never held whole in memory) in PATCHes of
--patch-mib, each body streamed by httpx. Measured per size: upload throughput, the server's peak resident memory
during the upload (a fresh server process whose VmHWM is reset once it is idle, since its start-up peak is higher
than anything an upload needs; cross-checked by sampling VmRSS), which must not grow with the file, its CPU time,
and that the SHA-256 the server computed equals the client's and that of the stored bytes.

The floor is the same bytes, from the same generator, hashed and written to a file in the same folder without
HTTP: by `tee FILE | sha256sum` and by a plain Python loop (hashlib + os.write + fsync, what the server does per
chunk), both including the final fsync as the server does.

Run: python -m tests.bench.evidence_upload (or `make bench-evidence`). Progress goes to stderr; the last line of
stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from services.registry.app import build_registry
from services.registry.deps import Registry
from services.registry.migrate import upgrade
from services.registry.settings import DatabaseSettings, EvidenceSettings, RegistrySettings, SecuritySettings
from tests import builders as b
from tests.support.processes import stop_process
from tests.support.registry_api import start_registry_api

MiB = 1024 * 1024
BLOCK = MiB  # the generator's unit
POOL = 32 * MiB  # random bytes the generator draws its blocks from
ROOT = Path(__file__).resolve().parents[2]
# A real ISO BMFF start: an ftyp box (isom) and the header of an mdat box that runs to the end of the file.
FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Source:
    """Deterministic pseudo-random file content, produced block by block from any block-aligned offset."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.pool = random.Random(seed).randbytes(POOL)

    def blocks(self, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes [start, start + length) in BLOCK pieces (start is a multiple of BLOCK)."""
        assert start % BLOCK == 0
        end = min(self.size, start + (self.size - start if length is None else length))
        for offset in range(start, end, BLOCK):
            k = offset // BLOCK
            at = (k * 7_368_787) % (POOL - BLOCK)  # a different window of the pool for every block
            block = self.pool[at:at + min(BLOCK, end - offset)]
            if offset == 0:
                mdat = (self.size - len(FTYP)).to_bytes(4, "big") + b"mdat"
                block = FTYP + mdat + block[len(FTYP) + 8:]
            yield block

    def sha256(self) -> str:
        """The whole file's SHA-256 (the client's own hash, computed before anything is timed)."""
        digest = hashlib.sha256()
        for block in self.blocks():
            digest.update(block)
        return digest.hexdigest()


def floor_shell(source: Source, folder: Path) -> float:
    """Seconds for `tee FILE | sha256sum` (two processes: writing and hashing overlap) plus fsync of FILE."""
    target = folder / "floor-shell.bin"
    started = time.perf_counter()
    proc = subprocess.Popen(["sh", "-c", 'tee "$1" | sha256sum >/dev/null && sync "$1"', "sh", str(target)],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for block in source.blocks():
        proc.stdin.write(block)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("the shell floor failed")
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def floor_python(source: Source, folder: Path) -> tuple[float, str]:
    """Seconds for hashing and writing each block in one Python loop, then fsync; and the hash."""
    target, digest = folder / "floor-python.bin", hashlib.sha256()
    started = time.perf_counter()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in source.blocks():
            digest.update(block)
            os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds, digest.hexdigest()


@dataclass
class World:
    """What the uploads need: the registry's settings, an owner's token and a request to upload to."""

    settings: RegistrySettings
    owner_token: str
    request_id: str


def build(folder: Path) -> World:
    """A migrated SQLite registry with an agency, an owner, a camera and an accepted footage request."""
    security = SecuritySettings(signing_key_file=str(folder / "signing.pem"), data_keys=Fernet.generate_key().decode(),
                                argon2_time_cost=1, argon2_memory_kib=8 * 1024, access_token_ttl_s=4 * 3600)
    settings = RegistrySettings(database=DatabaseSettings(url=f"sqlite:///{folder / 'registry.db'}"),
                                security=security, evidence=EvidenceSettings(folder=str(folder / "evidence")))
    registry: Registry = build_registry(settings)
    upgrade(registry.engine)
    with registry.sessions() as db:
        agency = b.make_agency(db, bounds=b.WEST)
        owner = b.make_owner(db, registry)
        camera = b.make_camera(db, registry, owner, b.make_site(db, registry, owner))
        request = b.make_request_row(db, agency, camera, state="accepted")
        db.commit()
        world = World(settings, owner.token, str(request.id))
    registry.engine.dispose()
    return world


def start_server(world: World, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving the registry (one process, so its pid is the server's) on a free port."""
    s = world.settings
    return start_registry_api({"REGISTRY_DATABASE_URL": s.database.url,
                               "REGISTRY_SIGNING_KEY_FILE": s.security.signing_key_file,
                               "REGISTRY_DATA_KEYS": s.security.data_keys,
                               "REGISTRY_ACCESS_TOKEN_TTL_S": str(s.security.access_token_ttl_s),
                               "REGISTRY_EVIDENCE_FOLDER": s.evidence.folder, "LOOKOUT_LOG_LEVEL": "WARNING"}, folder)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux clear_refs 5), so the peak is the upload's alone."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Polls VmRSS every few milliseconds: a cross-check of VmHWM, and the peak where clear_refs is refused."""

    def __init__(self, pid: int, every_s: float = 0.005) -> None:
        self.pid, self.every_s, self.peak_kib = pid, every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, proc_status(self.pid)["VmRSS"])
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upload(base: str, world: World, source: Source, patch_bytes: int) -> tuple[float, dict[str, Any]]:
    """Seconds to upload the whole file in PATCHes (streamed bodies), and the final state."""
    headers = {"Authorization": f"Bearer {world.owner_token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600, trust_env=False) as client:
        created = client.post(f"/v1/my/requests/{world.request_id}/uploads",
                              json={"filename": f"bench-{source.size}.mp4", "size_bytes": source.size})
        created.raise_for_status()
        upload_id, state = created.json()["upload_id"], created.json()
        started = time.perf_counter()
        for offset in range(0, source.size, patch_bytes):
            answer = client.patch(f"/v1/my/uploads/{upload_id}", content=source.blocks(offset, patch_bytes),
                                  headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"})
            if answer.status_code != 200:
                raise RuntimeError(f"PATCH at {offset}: {answer.status_code} {answer.text}")
            state = answer.json()
        return time.perf_counter() - started, state


def sha256_file(path: Path) -> str:
    """sha256sum of a stored file (outside any timing)."""
    return subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


def mb_s(size: int, seconds: float) -> float:
    """Throughput in MB/s (10^6 bytes)."""
    return round(size / seconds / 1e6, 1)


def measure(world: World, folder: Path, size: int, patch_bytes: int, seed: int) -> dict[str, Any]:
    """Floors and the server for one size; a fresh server process so its peak memory is this upload's."""
    source = Source(size, seed)
    expected = source.sha256()
    shell_s = floor_shell(source, folder)
    python_s, python_sha = floor_python(source, folder)
    log(f"{size / MiB:.0f} MiB floor: tee|sha256sum {mb_s(size, shell_s)} MB/s, python {mb_s(size, python_s)} MB/s")
    proc, base = start_server(world, folder)
    try:
        startup_peak = proc_status(proc.pid)["VmHWM"]  # imports and migrations check, before any upload
        reset = reset_peak(proc.pid)
        before, cpu0 = proc_status(proc.pid), cpu_seconds(proc.pid)
        with RssSampler(proc.pid) as sampler:
            seconds, state = upload(base, world, source, patch_bytes)
        after, cpu = proc_status(proc.pid), cpu_seconds(proc.pid) - cpu0
    finally:
        stop_process(proc)
    stored = Path(world.settings.evidence.folder)
    [key] = [p for p in stored.iterdir()]
    stored_sha = sha256_file(key)
    key.unlink()
    # The kernel's RSS counters are approximate to a few hundred KiB: report the higher of the two readings.
    peak = max(after["VmHWM"], sampler.peak_kib) if reset else sampler.peak_kib
    log(f"{size / MiB:.0f} MiB server: {mb_s(size, seconds)} MB/s, peak RSS during upload {peak / 1024:.1f} MiB "
        f"(idle before {before['VmRSS'] / 1024:.1f} MiB, sampled peak {sampler.peak_kib / 1024:.1f} MiB), "
        f"CPU {cpu:.1f} s")
    return {
        "bytes": size, "floor_tee_sha256sum_MB_s": mb_s(size, shell_s), "floor_python_MB_s": mb_s(size, python_s),
        "server_MB_s": mb_s(size, seconds), "server_seconds": round(seconds, 2),
        "server_vs_python_floor": round(python_s / seconds, 2),
        "server_rss_idle_before_MiB": round(before["VmRSS"] / 1024, 1),
        "server_peak_rss_MiB": round(peak / 1024, 1),
        "peak_source": "max(VmHWM after clear_refs, sampled VmRSS)" if reset else "VmRSS sampled every 5 ms",
        "server_peak_rss_sampled_MiB": round(sampler.peak_kib / 1024, 1),
        "server_peak_growth_over_idle_MiB": round((peak - before["VmRSS"]) / 1024, 1),
        "server_startup_peak_MiB": round(startup_peak / 1024, 1), "server_cpu_s": round(cpu, 2),
        "server_sha256_matches_client": state.get("sha256") == expected and state.get("state") == "stored",
        "stored_bytes_sha256_matches": stored_sha == expected, "python_floor_sha256_matches": python_sha == expected,
    }


def main(argv: list[str] | None = None) -> None:
    """Build, measure each size, print the JSON summary as the last stdout line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes-mib", default="100,1024", help="comma-separated file sizes in MiB")
    ap.add_argument("--patch-mib", type=int, default=64, help="bytes per PATCH request")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--dir", default=None, help="where the registry, evidence and floor files go")
    args = ap.parse_args(argv)
    sizes = [int(x) * MiB for x in args.sizes_mib.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="lookout-bench-evidence-", dir=args.dir))
    free = shutil.disk_usage(folder).free
    if free < 3 * max(sizes):
        raise SystemExit(f"need {3 * max(sizes) / MiB:.0f} MiB free in {folder}, have {free / MiB:.0f}")
    try:
        world = build(folder)
        load = os.getloadavg()
        results = {f"{s // MiB}MiB": measure(world, folder, s, args.patch_mib * MiB, args.seed) for s in sizes}
        peaks = [r["server_peak_rss_MiB"] for r in results.values()]
        print(json.dumps({
            "sizes": results, "patch_MiB": args.patch_mib,
            "server_chunk_bytes": world.settings.evidence.chunk_bytes,
            "peak_rss_growth_MiB": round(peaks[-1] - peaks[0], 1),
            "all_hashes_match": all(r["server_sha256_matches_client"] and r["stored_bytes_sha256_matches"]
                                    for r in results.values()),
            "storage": "local", "database": "sqlite", "cores": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load],
        }), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
