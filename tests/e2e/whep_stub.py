"""A test-only stand-in for the streams service: the session list, viewer tokens and a real aiortc WHEP endpoint.

It serves web/live/ at /live/ and relays an H.264 clip without re-encoding, the way the real service relays
cameras. Run as `python -m tests.e2e.whep_stub --port N --clip FILE`; tests steer it through /_stub/.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import aioice.ice
import av
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

WEB_LIVE = Path(__file__).resolve().parents[2] / "web" / "live"
REGISTRY_TOKEN = "x"
SESSION: dict[str, Any] = {
    "session_id": "s-1", "camera_id": "cam-1", "camera_label": "Front door", "device_id": "dev-1",
    "agency_id": "agency-1", "alert_id": "alert-1", "grant_id": "grant-1", "state": "live",
    "started_at": "2025-01-01T00:00:00Z", "live_at": "2025-01-01T00:00:01Z", "ended_at": None, "end_reason": None,
    "viewers": 0}


def make_clip(path: Path, *, seconds: int = 10) -> Path:
    """Encode a 640x360 25 fps H.264 test pattern: constrained baseline, a keyframe a second, no B-frames."""
    # MPEG-TS, not MP4: with decode=False aiortc packetizes the packets as they are, so they must be Annex B
    # (start codes, SPS/PPS before each keyframe); MP4's are length-prefixed and the browser decodes nothing.
    pattern = av.open("testsrc2=size=640x360:rate=25", format="lavfi")
    with pattern as src, av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.codec_context.gop_size, stream.codec_context.max_b_frames = 25, 0
        stream.codec_context.profile = "Baseline"
        for index, frame in zip(range(25 * seconds), src.decode(video=0), strict=False):
            frame.pts, frame.time_base = index, Fraction(1, 25)
            frame.pict_type = av.video.frame.PictureType.NONE  # lavfi marks every frame I: let x264 choose
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Host candidates on 127.0.0.1 only: aioice skips loopback and has no option to keep it."""
    return ["127.0.0.1"] if use_ipv4 else []


@dataclass
class Stub:
    """What the stub serves and what it saw."""

    clip: Path
    sessions: list[dict[str, Any]] = field(default_factory=lambda: [dict(SESSION)])
    log: list[dict[str, str]] = field(default_factory=list)
    peers: dict[str, RTCPeerConnection] = field(default_factory=dict)

    def record(self, request: Request) -> None:
        """Remember a request line and the headers the page must get right."""
        self.log.append({"method": request.method, "path": request.url.path, "query": request.url.query,
                         "authorization": request.headers.get("authorization", ""),
                         "content_type": request.headers.get("content-type", "")})


def bearer(request: Request, expected: str) -> None:
    """Reject a request without the expected bearer token, in the API's error shape."""
    if request.headers.get("authorization") != f"Bearer {expected}":
        raise HTTPException(401, "missing or wrong bearer token")


async def answer(offer: str, clip: Path) -> RTCPeerConnection:
    """An aiortc peer that sends the clip's H.264 packets as they are (no decode, no re-encode)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    player = MediaPlayer(str(clip), decode=False, loop=True)
    assert player.video is not None
    sender = pc.addTrack(player.video)
    transceiver = next(t for t in pc.getTransceivers() if t.sender is sender)
    # Without this aiortc answers VP8 and sends the H.264 packets labelled VP8; it must precede the offer.
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")])
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())  # aiortc gathers every candidate here
    except ValueError as exc:  # an offer without a usable H.264 video section
        await pc.close()
        raise HTTPException(400, f"unusable offer: {exc}") from exc
    return pc


def add_api(app: FastAPI, stub: Stub) -> None:
    """The three session endpoints the page calls before WHEP."""

    @app.get("/v1/sessions")
    async def sessions(request: Request, state: str | None = None, alert_id: str | None = None) -> Any:
        stub.record(request)
        bearer(request, REGISTRY_TOKEN)
        return [s for s in stub.sessions
                if (state is None or s["state"] == state) and (alert_id is None or s["alert_id"] == alert_id)]

    @app.post("/v1/sessions/{session_id}/viewer-token")
    async def viewer_token(session_id: str, request: Request) -> Any:
        stub.record(request)
        bearer(request, REGISTRY_TOKEN)
        return {"token": f"viewer-{session_id}", "expires_at": "2099-01-01T00:00:00Z",
                "whep_url": f"/v1/sessions/{session_id}/whep", "ice_servers": []}


def add_whep(app: FastAPI, stub: Stub) -> None:
    """WHEP: POST an offer to get a viewer resource, DELETE the resource to leave."""

    @app.post("/v1/sessions/{session_id}/whep")
    async def whep(session_id: str, request: Request) -> Response:
        stub.record(request)
        bearer(request, f"viewer-{session_id}")
        if request.headers.get("content-type") != "application/sdp":
            raise HTTPException(415, "the offer must be application/sdp")
        pc = await answer((await request.body()).decode(), stub.clip)
        resource = uuid.uuid4().hex
        stub.peers[resource] = pc
        return Response(pc.localDescription.sdp, status_code=201, media_type="application/sdp",
                        headers={"Location": f"/v1/sessions/{session_id}/whep/{resource}"})

    @app.delete("/v1/sessions/{session_id}/whep/{resource}")
    async def leave(session_id: str, resource: str, request: Request) -> Response:
        stub.record(request)
        bearer(request, f"viewer-{session_id}")
        pc = stub.peers.pop(resource, None)
        if pc is None:
            raise HTTPException(404, "no such viewer")
        await pc.close()
        return Response(status_code=204)


def add_controls(app: FastAPI, stub: Stub) -> None:
    """Test-only steering: replace the session list, read the request log, hang up every viewer."""

    @app.put("/_stub/sessions")
    async def set_sessions(request: Request) -> Any:
        stub.sessions = await request.json()
        return stub.sessions

    @app.get("/_stub/log")
    async def log() -> Any:
        return stub.log

    @app.post("/_stub/hangup")
    async def hangup() -> Any:
        peers, stub.peers = list(stub.peers.values()), {}
        await asyncio.gather(*(pc.close() for pc in peers))
        return {"closed": len(peers)}


def create_app(clip: Path) -> FastAPI:
    """The stub app; its lifespan closes every peer so shutdown leaves no aiortc task behind."""
    stub = Stub(clip=clip)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.gather(*(pc.close() for pc in stub.peers.values()))

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(HTTPException)
    async def error_shape(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": {"code": f"http_{exc.status_code}", "message": exc.detail}}, exc.status_code)

    add_api(app, stub)
    add_whep(app, stub)
    add_controls(app, stub)
    app.mount("/live", StaticFiles(directory=WEB_LIVE, html=True), name="live")
    return app


def main() -> None:
    """Serve the stub on 127.0.0.1 until SIGTERM."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clip", type=Path, required=True)
    args = parser.parse_args()
    aioice.ice.get_host_addresses = loopback_host_addresses
    uvicorn.run(create_app(args.clip), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
