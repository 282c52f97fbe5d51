"""CSV import of paper brochure forms by an advocate: all rows or none, with a per-row report."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from services.common.auth import Role, require_role
from services.common.errors import InvalidInput, LookoutError
from services.registry import geo
from services.registry.agencies.service import agency_for_point
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.crypto import ContactCipher
from services.registry.outbox.events import site_changed
from services.registry.owners import schemas as s
from services.registry.owners.models import Owner, Site
from services.registry.owners.service import add_camera
from services.registry.settings import ImportSettings

COLUMNS = ("owner_name", "owner_email", "owner_phone", "address", "site_kind", "lon", "lat", "camera_label",
           "bearing_deg", "fov_deg", "range_m", "retention_days", "indoor", "sharing_mode", "core_enabled")
REQUIRED = ("owner_name", "address", "site_kind", "lon", "lat", "camera_label", "bearing_deg", "fov_deg",
            "range_m", "retention_days")
# Model field paths as the CSV columns an advocate sees in the report.
_COLUMN_OF = {"name": "owner_name", "email": "owner_email", "phone": "owner_phone", "kind": "site_kind",
              "label": "camera_label", "location": "lon", "location.lon": "lon", "location.lat": "lat"}


class Rejection(BaseModel):
    """Why one CSV line was refused."""

    line: int
    field: str | None
    message: str


class ImportReport(BaseModel):
    """What an import did, or would do (dry run), and every line it refused."""

    rows: int
    dry_run: bool
    imported: bool
    owners_created: int = 0
    sites_created: int = 0
    cameras_created: int = 0
    rejected: list[Rejection] = []


@dataclass
class _Row:
    line: int
    owner: s.OwnerCreate
    site: s.SiteCreate
    camera: s.CameraFields
    agency_id: uuid.UUID | None = None
    key: tuple[str, ...] = field(default=())


def _blank_to_none(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in raw.items()}


def _parse_row(line: int, raw: dict[str, Any]) -> _Row:
    v = {c: None for c in COLUMNS} | _blank_to_none(raw)  # optional columns may be left out of the file
    missing = [c for c in REQUIRED if v.get(c) is None]
    if missing:
        raise InvalidInput(f"required value missing: {', '.join(missing)}", field=missing[0])
    location = {"lon": v["lon"], "lat": v["lat"]}
    owner = s.OwnerCreate(name=v["owner_name"], email=v["owner_email"], phone=v["owner_phone"])
    site = s.SiteCreate(kind=v["site_kind"], address=v["address"], location=location)
    camera = s.CameraFields(
        label=v["camera_label"], bearing_deg=v["bearing_deg"], fov_deg=v["fov_deg"], range_m=v["range_m"],
        retention_days=v["retention_days"], indoor=v["indoor"] or False, core_enabled=v["core_enabled"] or False,
        sharing_mode=v["sharing_mode"] or s.SharingMode.ON_REQUEST, location=location,
    )
    key = (owner.name.lower(), str(owner.email or "").lower(), owner.phone or "", site.address.lower())
    return _Row(line, owner, site, camera, key=key)


def _read(data: bytes, limits: ImportSettings) -> list[dict[str, Any]]:
    if len(data) > limits.max_bytes:
        raise InvalidInput(f"file larger than {limits.max_bytes} bytes", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text", field="file") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(f"missing columns: {', '.join(missing)}", field="file")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown columns: {', '.join(unknown)}", field="file")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InvalidInput(f"malformed CSV: {exc}", field="file") from exc
    if len(rows) > limits.max_rows:
        raise InvalidInput(f"more than {limits.max_rows} rows", field="file")
    return rows


def _validate(session: Session, caller: Caller, raw_rows: list[dict[str, Any]]) -> tuple[list[_Row], list[Rejection]]:
    rows, rejected = [], []
    for line, raw in enumerate(raw_rows, start=2):
        try:
            if None in raw:  # DictReader's key for surplus cells
                raise InvalidInput("more cells than columns", field=None)
            row = _parse_row(line, raw)
            assert row.site.location is not None
            row.agency_id = agency_for_point(session, lon=row.site.location.lon, lat=row.site.location.lat).id
            if row.agency_id != caller.principal.agency_id:
                raise InvalidInput("location is outside your agency's jurisdiction", field="lon")
            rows.append(row)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"])
            name = _COLUMN_OF.get(name, name)
            rejected.append(Rejection(line=line, field=name, message=f"{name}: {err['msg']}"))
        except LookoutError as exc:
            column = _COLUMN_OF.get(exc.field, exc.field) if exc.field else None
            rejected.append(Rejection(line=line, field=column, message=exc.message))
    return rows, rejected


def import_cameras(session: Session, *, caller: Caller, cipher: ContactCipher, data: bytes, dry_run: bool,
                   limits: ImportSettings) -> ImportReport:
    """Validate every line; write all of them in one transaction only if none was refused."""
    require_role(caller.principal, Role.ADVOCATE, Role.SUPERVISOR)
    raw_rows = _read(data, limits)
    rows, rejected = _validate(session, caller, raw_rows)
    report = ImportReport(rows=len(raw_rows), dry_run=dry_run, imported=False, rejected=rejected)
    if rejected or not rows:
        return report
    # One owner per name+email+phone, one site per owner+address.
    counts = {"owners_created": len({r.key[:3] for r in rows}), "sites_created": len({r.key for r in rows}),
              "cameras_created": len(rows)}
    if dry_run:
        return report.model_copy(update=counts)
    owners: dict[tuple[str, ...], Owner] = {}
    sites: dict[tuple[str, ...], Site] = {}
    for row in rows:
        if row.key not in sites:
            owner = owners.get(row.key[:3])
            if owner is None:
                owner = Owner(agency_id=caller.principal.agency_id, name_enc=cipher.encrypt(row.owner.name),
                              email_enc=cipher.encrypt(str(row.owner.email) if row.owner.email else None),
                              phone_enc=cipher.encrypt(row.owner.phone))
                session.add(owner)
                session.flush()
                owners[row.key[:3]] = owner
            assert row.site.location is not None and row.agency_id is not None
            site = Site(owner_id=owner.id, agency_id=row.agency_id, kind=row.site.kind,
                        address_enc=cipher.encrypt(row.site.address),
                        location=geo.point(row.site.location.lon, row.site.location.lat))
            session.add(site)
            site_changed(session, site)
            sites[row.key] = site
        add_camera(session, caller=caller, site=sites[row.key], data=row.camera)
    audit.record(session, caller=caller, action="camera.imported", object_type="csv",
                 detail={"rows": len(rows), "sites": len(sites)})
    session.commit()
    return report.model_copy(update={"imported": True, **counts})
