"""The alert service's operations: open (device or app), step through the lifecycle, read, publish."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.alerts import lifecycle, messages
from services.alerts.feed import FeedSignal
from services.alerts.models import Alert, SiteCopy, Status
from services.alerts.settings import AlertRules
from services.alerts.validation import PanicRequest, Rejected, check_site
from services.common.auth import Principal, Role
from services.common.errors import Conflict, NotFound

log = logging.getLogger("lookout.alerts")
STAFF = (Role.DISPATCHER, Role.SUPERVISOR)


class Publisher(Protocol):
    """Something that publishes MQTT messages with QoS 1 (the MqttClient, or a recorder in tests)."""

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> Awaitable[None]:
        """Publish one message."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What a database step decided: the alert, whether it is new, and what to publish after commit."""

    alert: Alert
    created: bool
    outgoing: list[messages.Outgoing] = field(default_factory=list)


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def may_see(principal: Principal, alert: Alert) -> bool:
    """Dispatchers and supervisors see their agency's alerts; an owner sees the alerts of their sites."""
    if principal.role in STAFF:
        return principal.agency_id is not None and str(principal.agency_id) == alert.agency_id
    if principal.role is Role.OWNER:
        return principal.owner_id is not None and str(principal.owner_id) == alert.owner_id
    return False


@dataclass
class AlertService:
    """Database work runs in a worker thread; publishing and feed notification on the event loop."""

    sessions: sessionmaker[Session]
    publisher: Publisher
    rules: AlertRules
    signal: FeedSignal = field(default_factory=FeedSignal)
    clock: Callable[[], datetime] = utcnow

    # -- opening -----------------------------------------------------------------------------------------

    def open_in_db(self, session: Session, req: PanicRequest) -> Outcome:
        """Open (or find) the alert of the request's event id and commit; say what to announce."""
        now = self.clock()
        site = check_site(session.get(SiteCopy, req.site_id), req.site_id)
        opened = lifecycle.open_alert(session, req, site, now)
        alert = opened.alert
        if not opened.created:
            # Nothing was written; the caller's `with` closes the session (no rollback: it would expire `alert`).
            if alert.device_id != req.device_id or alert.site_id != req.site_id:
                raise Rejected("event_id_reused", f"{req.event_id} belongs to alert {alert.id}")
            if alert.announced_at is not None:
                return Outcome(alert, False)
        cameras = lifecycle.live_cameras(session, alert.site_id, alert.device_id)
        session.commit()
        return Outcome(alert, opened.created,
                       messages.announcement(alert, cameras, self.rules, now))

    async def announce(self, outcome: Outcome) -> None:
        """Publish what an opening decided, then mark the alert announced; raises if the broker is away."""
        # Together: each QoS 1 publish waits for its PUBACK, and their order carries no meaning.
        await asyncio.gather(*(self.publisher.publish(out.topic, out.payload, qos=1) for out in outcome.outgoing))
        if outcome.outgoing:
            await asyncio.to_thread(self._mark_announced, outcome.alert.id)

    def _mark_announced(self, alert_id: uuid.UUID) -> None:
        with self.sessions() as session:
            lifecycle.mark_announced(session, alert_id, self.clock())
            session.commit()

    async def open_from_app(self, principal: Principal, site_id: str, event_id: uuid.UUID) -> Outcome:
        """The owner's app trigger: open the alert of one of the owner's sites (idempotent by event id)."""
        outcome = await asyncio.to_thread(self._open_from_app, principal, site_id, event_id)
        if outcome.created:
            self.signal.notify()
        try:
            await self.announce(outcome)
        except Exception as exc:  # the alert is open and in the feed; a retry of the same event id re-announces
            log.error("alert announcement failed", extra={"alert_id": str(outcome.alert.id), "error": repr(exc)})
        return outcome

    def _open_from_app(self, principal: Principal, site_id: str, event_id: uuid.UUID) -> Outcome:
        with self.sessions() as session:
            site = session.get(SiteCopy, site_id)
            if site is None or site.deleted or principal.owner_id is None or site.owner_id != str(principal.owner_id):
                raise NotFound("no such site", field="site_id")
            req = PanicRequest(event_id=event_id, site_id=site_id, trigger="app", pressed_at=self.clock())
            try:
                return self.open_in_db(session, req)
            except Rejected as exc:
                raise Conflict(exc.reason.replace("_", " "), code=exc.reason) from exc

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def act(self, principal: Principal, alert_id: uuid.UUID, action: str) -> Alert:
        """Acknowledge, resolve or cancel; commit, wake the feed, publish the AlertEvent."""
        alert = await asyncio.to_thread(self._act, principal, alert_id, action)
        self.signal.notify()
        out = messages.change_event(alert)
        try:
            await self.publisher.publish(out.topic, out.payload, qos=1)
        except Exception as exc:  # dashboards have it from the feed; log for the relay's sake
            log.error("alert event not published", extra={"alert_id": str(alert.id), "error": repr(exc)})
        return alert

    def _act(self, principal: Principal, alert_id: uuid.UUID, action: str) -> Alert:
        with self.sessions() as session:
            alert = lifecycle.get_alert(session, alert_id, lock=True)
            if not may_see(principal, alert):
                raise NotFound("no such alert")
            lifecycle.apply_action(session, alert, action, str(principal.account_id), self.clock())
            session.commit()
            return alert

    # -- reading -----------------------------------------------------------------------------------------

    def get(self, principal: Principal, alert_id: uuid.UUID) -> Alert:
        """One alert the principal may see, or NotFound."""
        with self.sessions() as session:
            alert = lifecycle.get_alert(session, alert_id)
            if not may_see(principal, alert):
                raise NotFound("no such alert")
            return alert

    def list_alerts(self, principal: Principal, statuses: Sequence[Status], limit: int) -> list[Alert]:
        """The agency's alerts (staff), newest first, optionally of some statuses."""
        stmt = select(Alert).where(Alert.agency_id == str(principal.agency_id))
        if statuses:
            stmt = stmt.where(Alert.status.in_([s.value for s in statuses]))
        with self.sessions() as session:
            return list(session.scalars(stmt.order_by(Alert.opened_at.desc()).limit(limit)))
