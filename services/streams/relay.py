"""The relay at run time: live sessions in memory (peer connections, hub, viewers), ended on every signal.

A session ends when its alert is resolved, the registry revokes the camera's sharing, the box stops listing
it, it expires, or its ingest connection fails. Ending closes every peer connection at once (well within the
one second the privacy rules allow) and tells the box to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiortc import RTCPeerConnection

from services.common.errors import Conflict, InvalidInput, NotFound
from services.streams.media.hub import Hub, ViewerTrack
from services.streams.media.peers import OfferError, answer_ingest, answer_viewer
from services.streams.service import SessionStore
from services.streams.settings import RelaySettings

log = logging.getLogger("lookout.streams.relay")
Publish = Callable[[str, str, str], Awaitable[None]]  # (device_id, session_id, reason) -> tell the box to stop
Answer = Callable[[str, str, str, str], Awaitable[None]]  # (device_id, session_id, type, sdp)


@dataclass
class Viewer:
    """One viewer's peer connection and track."""

    viewer_id: uuid.UUID
    account_id: str
    pc: RTCPeerConnection
    track: ViewerTrack


@dataclass
class Live:
    """A session this relay is carrying (or waiting to carry)."""

    session_id: str
    camera_id: str
    device_id: str
    agency_id: str
    alert_id: str | None
    grant_id: str | None
    expires_at: datetime
    hub: Hub
    known: asyncio.Event = field(default_factory=asyncio.Event)
    pc: RTCPeerConnection | None = None
    viewers: dict[uuid.UUID, Viewer] = field(default_factory=dict)
    ended: bool = False
    tasks: set[asyncio.Future[object]] = field(default_factory=set)


class Relay:
    """Holds the live sessions and applies every start, offer, stop, revocation and viewer request."""

    def __init__(self, store: SessionStore, settings: RelaySettings, *, stop_device: Publish, answer: Answer) -> None:
        self.store = store
        self.settings = settings
        self.stop_device = stop_device
        self.answer = answer
        self.live: dict[str, Live] = {}
        self.ended: set[str] = set()  # ended here: a late or repeated command must not revive them

    def _new(self, *, session_id: str, device_id: str) -> Live:
        hub = Hub(gop_cache_max_bytes=self.settings.gop_cache_max_bytes,
                  queue_max_units=self.settings.queue_max_packets)
        return Live(session_id=session_id, camera_id="", device_id=device_id, agency_id="", alert_id=None,
                    grant_id=None, expires_at=self.store.clock(), hub=hub)

    async def started(self, *, session_id: str, camera_id: str, device_id: str, agency_id: str, alert_id: str | None,
                      grant_id: str | None, expires_at: datetime) -> None:
        """A stream_start for this relay was sent to a box: expect its offer."""
        if session_id in self.ended:
            return
        cap = self.store.clock().timestamp() + self.settings.max_session_s
        expires_at = min(expires_at, datetime.fromtimestamp(cap, tz=expires_at.tzinfo))
        _row, _new = await asyncio.to_thread(
            self.store.record_start, session_id=session_id, camera_id=camera_id, device_id=device_id,
            agency_id=agency_id, alert_id=alert_id, grant_id=grant_id, relay_id=self.settings.relay_id,
            expires_at=expires_at)
        live = self.live.get(session_id)
        if live is not None and live.known.is_set():
            return  # a repeated command
        if live is None:
            live = self.live[session_id] = self._new(session_id=session_id, device_id=device_id)
        live.camera_id, live.device_id, live.agency_id = camera_id, device_id, agency_id
        live.alert_id, live.grant_id, live.expires_at = alert_id, grant_id, expires_at
        live.known.set()
        delay = max(0.0, expires_at.timestamp() - self.store.clock().timestamp())
        self._spawn(live, self._expire(live, delay))

    async def _expire(self, live: Live, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.end(live.session_id, "expired")

    def _spawn(self, live: Live, coro: Awaitable[object]) -> None:
        task = asyncio.ensure_future(coro)
        live.tasks.add(task)
        task.add_done_callback(live.tasks.discard)

    async def offered(self, *, device_id: str, session_id: str, sdp: str) -> None:
        """The box's offer: answer it if this relay expects that session from that box, else reject."""
        live = self.live.get(session_id)
        if live is None and session_id not in self.ended:
            # The offer may overtake the stream_start command on the other topic: wait for it briefly.
            live = self.live[session_id] = self._new(session_id=session_id, device_id=device_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.known.wait(), self.settings.offer_wait_s)
        if live is None or not live.known.is_set() or live.ended or live.device_id != device_id or live.pc:
            if live is not None and not live.known.is_set():
                self.live.pop(session_id, None)
            await self.answer(device_id, session_id, "reject", "no such session on this relay")
            log.warning("offer rejected", extra={"session_id": session_id, "device_id": device_id})
            return
        try:
            pc, answer = await answer_ingest(sdp, live.hub, ice_servers=self.settings.ice_servers,
                                             on_state=lambda state: self._ingest_state(live, state))
        except OfferError as exc:
            await self.answer(device_id, session_id, "reject", str(exc))
            return
        live.pc = pc
        self._spawn(live, self._when_media(live))
        await self.answer(device_id, session_id, "answer", answer)

    async def _when_media(self, live: Live) -> None:
        await live.hub.first_unit.wait()
        await asyncio.to_thread(self.store.mark_live, session_id=live.session_id)
        log.info("stream live", extra={"session_id": live.session_id, "camera_id": live.camera_id})

    def _ingest_state(self, live: Live, state: str) -> None:
        if state in ("failed", "closed") and not live.ended:
            self._spawn(live, self.end(live.session_id, f"ingest_{state}", tell_device=False))

    async def end(self, session_id: str, reason: str, *, tell_device: bool = True) -> bool:
        """End one session now: viewers and the box's connection closed, the box told, the record closed."""
        live = self.live.pop(session_id, None)
        if live is None or live.ended:
            return False
        live.ended = True
        self.ended.add(session_id)
        live.hub.close()
        closing = [v.pc.close() for v in live.viewers.values()]
        if live.pc is not None:
            closing.append(live.pc.close())
        await asyncio.gather(*closing, return_exceptions=True)
        current = asyncio.current_task()
        for task in list(live.tasks):
            if task is not current:
                task.cancel()
        bytes_out = sum(v.track.bytes_out for v in live.viewers.values())
        for viewer in live.viewers.values():
            await asyncio.to_thread(self.store.viewer_left, viewer_id=viewer.viewer_id,
                                    bytes_out=viewer.track.bytes_out)
        await asyncio.to_thread(self.store.mark_ended, session_id=session_id, reason=reason,
                                bytes_in=live.hub.bytes_in, bytes_out=bytes_out)
        log.info("stream ended", extra={"session_id": session_id, "reason": reason})
        if tell_device and live.device_id:
            try:
                await self.stop_device(live.device_id, session_id, reason)
            except Exception as exc:  # the box's own expiry and policy still stop it
                log.warning("could not tell the box to stop", extra={"session_id": session_id, "error": str(exc)})
        return True

    async def end_where(self, reason: str, predicate: Callable[[Live], bool]) -> list[str]:
        """End every live session matching `predicate`, all at once."""
        chosen = [s for s, live in self.live.items() if live.known.is_set() and predicate(live)]
        await asyncio.gather(*(self.end(s, reason) for s in chosen))
        return chosen

    async def join(self, *, session_id: str, account_id: str, sdp: str) -> tuple[uuid.UUID, str]:
        """A viewer's WHEP offer: subscribe to the hub and answer."""
        live = self.live.get(session_id)
        if live is None or live.ended or live.pc is None:
            raise Conflict("this stream is not live", code="not_live")
        if len(live.viewers) >= self.settings.max_viewers:
            raise Conflict("this stream has the most viewers the relay allows", code="too_many_viewers")
        track = live.hub.subscribe()
        viewer_id = uuid.uuid4()
        try:
            pc, answer = await answer_viewer(sdp, track, ice_servers=self.settings.ice_servers,
                                             on_state=lambda state: self._viewer_state(live, viewer_id, state))
        except OfferError as exc:
            track.stop()
            raise InvalidInput(str(exc), code="bad_offer") from None
        await asyncio.to_thread(self.store.viewer_joined, viewer_id=viewer_id, session_id=session_id,
                                account_id=account_id)
        live.viewers[viewer_id] = Viewer(viewer_id, account_id, pc, track)
        return viewer_id, answer

    def _viewer_state(self, live: Live, viewer_id: uuid.UUID, state: str) -> None:
        if state in ("failed", "closed") and viewer_id in live.viewers:
            self._spawn(live, self.leave(session_id=live.session_id, viewer_id=viewer_id))

    async def leave(self, *, session_id: str, viewer_id: uuid.UUID, account_id: str | None = None) -> None:
        """A viewer leaves (DELETE of its WHEP resource, or its connection dropped)."""
        live = self.live.get(session_id)
        viewer = live.viewers.get(viewer_id) if live else None
        if live is None or viewer is None or (account_id is not None and viewer.account_id != account_id):
            raise NotFound("no such viewer", code="viewer_not_found")
        del live.viewers[viewer_id]
        viewer.track.stop()
        await viewer.pc.close()
        await asyncio.to_thread(self.store.viewer_left, viewer_id=viewer_id, bytes_out=viewer.track.bytes_out)

    async def close(self) -> None:
        """Shut down: end everything (the boxes are told to stop)."""
        await asyncio.gather(*(self.end(s, "relay_stopping") for s in list(self.live)), return_exceptions=True)
