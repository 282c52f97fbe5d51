"""Test peers: a stand-in box that offers a clip's H.264 without re-encoding, and a decoding viewer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

from services.streams.media.peers import h264_codecs


class ClipBox:
    """Plays a clip (decode off) into an offering peer connection, as a CORE box would."""

    def __init__(self, clip: Path) -> None:
        self.player = MediaPlayer(str(clip), decode=False, loop=True)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    async def offer(self) -> str:
        """The box's complete offer (ICE gathered)."""
        assert self.player.video is not None
        sender = self.pc.addTrack(self.player.video)
        for transceiver in self.pc.getTransceivers():
            if transceiver.sender is sender:
                transceiver.setCodecPreferences(h264_codecs())
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def answered(self, sdp: str) -> None:
        """Apply the relay's answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def close(self) -> None:
        """Hang up and stop the player."""
        await self.pc.close()
        if self.player.video is not None:
            self.player.video.stop()


@dataclass
class Viewer:
    """A receiving peer connection that decodes what it gets, counting frames."""

    pc: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[])))
    frames: int = 0
    width: int = 0
    first_frame_s: float | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _t0: float = 0.0

    async def offer(self) -> str:
        """A recvonly video offer, as a WHEP client sends."""
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.on("track", self._on_track)
        self._t0 = time.monotonic()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    def _on_track(self, track: Any) -> None:
        self._task = asyncio.ensure_future(self._pull(track))

    async def _pull(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames += 1
                self.width = frame.width
                if self.first_frame_s is None:
                    self.first_frame_s = time.monotonic() - self._t0
        except Exception:  # MediaStreamError: the relay ended the track
            self.ended.set()

    async def answered(self, sdp: str) -> None:
        """Apply the relay's answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def wait_frames(self, n: int, timeout: float = 15.0) -> None:
        """Until `n` frames were decoded."""
        deadline = time.monotonic() + timeout
        while self.frames < n:
            assert time.monotonic() < deadline, f"only {self.frames} frames decoded"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Hang up."""
        await self.pc.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
