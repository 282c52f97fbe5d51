"""Live video on the box: stream commands checked against the owner's policy, sessions started and ended.

Every decision is taken on the event loop before any await, so a revocation and a start never interleave:
a refused start sends nothing and opens nothing (beyond a warm standby), and a revocation ends the session
and is written down before it returns, so no retry of the same StreamStart can bring the stream back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from edge_core.config import CameraConfig, LiveConfig
from edge_core.ice import restrict_host_addresses
from edge_core.policy import Policy
from edge_core.session import PublishSession, SendOffer
from edge_core.source import SourcePool
from proto.lookout.v1 import lookout_pb2 as pb
from proto.topics import TopicError, check_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveInfo:
    """What the owner's LAN page shows of one session."""

    session_id: str
    camera_id: str
    label: str
    agency_id: str
    alert_id: str
    grant_id: str
    state: str
    until: datetime


def _now() -> datetime:
    return datetime.now(UTC)


class Live:
    """The box's live sessions; the command handler, the answer handler and the LAN page call in here."""

    def __init__(self, live: LiveConfig, cameras: tuple[CameraConfig, ...], policy: Policy, sources: SourcePool,
                 send_offer: SendOffer, *, on_change: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = _now, session_factory: type[PublishSession] = PublishSession) -> None:
        self.config = live
        self.labels = {c.camera_id: c.label or c.camera_id for c in cameras}
        self.policy = policy
        self.sources = sources
        self.send_offer = send_offer
        self.on_change = on_change
        self.clock = clock
        self._new_session = session_factory
        self._sessions: dict[str, PublishSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        restrict_host_addresses(live.ice_host_addresses)

    def stream_start(self, start: pb.StreamStart) -> str:
        """Start a session if the owner's policy allows it now; else refuse, sending nothing."""
        if start.session_id in self._sessions:
            return self._say(f"session {start.session_id[:64]} already running: duplicate ignored")
        try:
            check_id(start.session_id, "session_id")
        except TopicError as exc:
            return self._refuse(start, str(exc))
        decision = self.policy.check(start, self.clock())
        if not decision.allowed:
            return self._refuse(start, decision.reason)
        if len(self._sessions) >= self.config.max_sessions:
            return self._refuse(start, f"already {len(self._sessions)} sessions (max_sessions)")
        assert decision.until is not None
        fanout = self.sources.acquire(start.camera_id)
        session = self._new_session(start, decision.until, fanout, self.send_offer,
                                 answer_timeout_s=self.config.answer_timeout_s, clock=self.clock)
        self._sessions[start.session_id] = session
        task = asyncio.get_running_loop().create_task(self._run(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.on_change()
        return self._say(f"session {start.session_id} for camera {start.camera_id} started ({decision.reason}, "
                         f"until {decision.until.isoformat(timespec='seconds')})")

    async def _run(self, session: PublishSession) -> None:
        try:
            reason = await session.run()
        finally:
            self._sessions.pop(session.session_id, None)
            self.sources.release(session.camera_id)
            self.on_change()
        log.info("session %s for camera %s ended: %s", session.session_id, session.camera_id, reason)

    def stream_stop(self, stop: pb.StreamStop) -> str:
        """End a session (by id)."""
        session = self._sessions.get(stop.session_id)
        if session is None:
            return self._say(f"stream_stop for unknown session {stop.session_id[:64]!r}: nothing to do")
        session.end(f"stopped by the relay: {stop.reason[:200]}" if stop.reason else "stopped by the relay")
        return self._say(f"session {stop.session_id} stopping")

    def policy_update(self, update: pb.PolicyUpdate) -> str:
        """Store a newer policy, then end at once every session it no longer allows."""
        applied = self.policy.apply(update)
        ended = self._enforce()
        what = "applied" if applied else "not newer than the stored one: ignored"
        return self._say(f"policy for camera {update.camera_id} version {update.version} {what}"
                         + (f"; ended {', '.join(ended)}" if ended else ""))

    def answer(self, description: pb.SessionDescription) -> str:
        """The relay's answer or rejection for a session."""
        session = self._sessions.get(description.session_id)
        if session is None or not session.deliver(description):
            return self._say(f"{description.type[:16]} for session {description.session_id[:64]!r} ignored")
        return self._say(f"{description.type[:16]} received for session {description.session_id}")

    async def stop_sharing(self, session_id: str) -> bool:
        """The owner's "stop sharing" on the box: revoke durably this camera's alert or grant, end the session."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        start = session.start
        session.end("stopped by the owner on the box")
        # Written synchronously (a small file, rarely): nothing can run between the end and the record.
        self.policy.revoke(start.camera_id, start.alert_id, start.grant_id, self.clock())
        self._enforce()  # any other session under the same alert or grant
        log.warning("owner stopped sharing camera %s (session %s) on the box", start.camera_id, session_id)
        return True

    def _enforce(self) -> list[str]:
        """End every session the policy no longer allows; shorten those whose grant now ends sooner."""
        ended = []
        for session in list(self._sessions.values()):
            decision = self.policy.check(session.start, self.clock())
            if not decision.allowed:
                session.end(f"no longer allowed: {decision.reason}")
                ended.append(session.session_id)
            elif decision.until is not None:
                session.shorten(decision.until)
        return ended

    def live_session_ids(self) -> list[str]:
        """Sessions running now (negotiating or streaming), for DeviceStatus.live_session_ids."""
        return sorted(self._sessions)

    def sessions(self) -> list[LiveInfo]:
        """What the owner's LAN page shows."""
        return [LiveInfo(s.session_id, s.camera_id, self.labels.get(s.camera_id, s.camera_id), s.start.agency_id,
                         s.start.alert_id, s.start.grant_id, s.state, s.until) for s in self._sessions.values()]

    async def close(self) -> None:
        """End every session and wait for them to close."""
        for session in list(self._sessions.values()):
            session.end("the box is shutting down")
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _refuse(self, start: pb.StreamStart, reason: str) -> str:
        log.warning("stream_start refused: session %s, camera %s, alert %r, grant %r: %s", start.session_id[:64],
                    start.camera_id[:64], start.alert_id[:64], start.grant_id[:64], reason)
        return f"refused: {reason}"

    def _say(self, outcome: str) -> str:
        log.debug("%s", outcome)  # the caller (the command handler) logs it with the command's id
        return outcome
