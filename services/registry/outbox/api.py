"""Catch-up for consumers that start late: the registry's events after a version, oldest first."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from proto import topics
from services.common.auth import Role
from services.registry.context import Caller
from services.registry.deps import SessionDep, roles
from services.registry.outbox import service

router = APIRouter(tags=["sync"])
SYNC_SCOPE = "registry:sync"
SyncCaller = Annotated[Caller, Depends(roles(Role.INTEGRATOR, scope=SYNC_SCOPE))]


class Kind(StrEnum):
    """Which registry events."""

    CAMERAS = "cameras"
    SITES = "sites"
    DEVICES = "devices"


class SyncEvent(BaseModel):
    """One event exactly as it was (or will be) published on MQTT."""

    version: int
    topic: str
    payload_b64: str = Field(description="the protobuf message (CameraChanged, SiteChanged or DeviceChanged), "
                                         "base64; decode it with proto.wire.decode")


class SyncPage(BaseModel):
    """A page of events; ask again with `after_version=next_after_version` until `items` is empty."""

    items: list[SyncEvent]
    next_after_version: int


@router.get("/v1/sync/{kind}", response_model=SyncPage,
            summary="Registry events after a version, for a consumer catching up (integrator, scope registry:sync)")
def sync(kind: Kind, caller: SyncCaller, session: SessionDep, after_version: Annotated[int, Query(ge=0)] = 0,
         limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> SyncPage:
    rows = service.events_after(session, topic_prefix=f"{topics.PREFIX}/registry/{kind.value}/",
                                after=after_version, limit=limit)
    items = [SyncEvent(version=r.id, topic=r.topic, payload_b64=base64.b64encode(r.payload).decode()) for r in rows]
    return SyncPage(items=items, next_after_version=items[-1].version if items else after_version)
