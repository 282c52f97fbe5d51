"""`lookout`: the admin CLI (agencies, staff accounts, agreements, audit verification, the demo)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import pyotp
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.common.errors import LookoutError
from services.registry import migrate
from services.registry.accounts import service as accounts
from services.registry.accounts.models import Account
from services.registry.accounts.schemas import AccountCreate
from services.registry.agencies import service as agencies
from services.registry.agencies.schemas import AgencyCreate
from services.registry.app import build_registry
from services.registry.audit import service as audit
from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.settings import RegistrySettings

DEMO_PASSWORD = "lookout-demo-pass"  # noqa: S105 (published demo credential, printed by make run)
app = typer.Typer(help="Lookout registry administration.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
agency_app = typer.Typer(help="Agencies and their jurisdictions.", no_args_is_help=True)
account_app = typer.Typer(help="Staff accounts and API clients.", no_args_is_help=True)
agreement_app = typer.Typer(help="Sharing agreements between agencies.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo data of `make run`.", no_args_is_help=True)
outbox_app = typer.Typer(help="The registry's event outbox.", no_args_is_help=True)
upkeep_app = typer.Typer(help="Upkeep the registry also does by itself while it runs.", no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence bundles (offline: no settings or database needed).", no_args_is_help=True)
for sub, name in ((db_app, "db"), (agency_app, "agency"), (account_app, "account"), (agreement_app, "agreement"),
                  (audit_app, "audit"), (demo_app, "demo"), (outbox_app, "outbox"), (evidence_app, "evidence"),
                  (upkeep_app, "upkeep")):
    app.add_typer(sub, name=name)


def _registry() -> Registry:
    return build_registry(RegistrySettings())


def _account(registry: Registry, session: Session, username: str) -> Account | None:
    return session.scalar(select(Account).where(Account.login_digest == registry.kit.cipher.blind_index(username)))


def _fail(exc: LookoutError) -> NoReturn:
    typer.echo(f"error: {exc.message}" + (f" ({exc.field})" if exc.field else ""), err=True)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    registry = _registry()
    migrate.upgrade(registry.engine)
    typer.echo(f"schema at head on {registry.engine.url.render_as_string(hide_password=True)}")


@agency_app.command("create")
def agency_create(slug: str, name: str,
                  jurisdiction: Annotated[Path, typer.Option(help="GeoJSON Polygon/MultiPolygon, Feature or "
                                                             "FeatureCollection with one feature")]) -> None:
    """Create an agency whose jurisdiction comes from a GeoJSON file."""
    geojson = json.loads(jurisdiction.read_text())
    if geojson.get("type") == "FeatureCollection":
        geojson = geojson["features"][0]
    if geojson.get("type") == "Feature":
        geojson = geojson["geometry"]
    registry = _registry()
    with registry.sessions() as session:
        try:
            agency = agencies.create_agency(session, caller=None,
                                            data=AgencyCreate(slug=slug, name=name, jurisdiction=geojson))
        except LookoutError as exc:
            _fail(exc)
        typer.echo(f"agency {agency.slug} {agency.id}")


@account_app.command("create")
def account_create(agency: str, username: str, role: Role,
                   password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                                         confirmation_prompt=True)],
                   scope: Annotated[list[str] | None, typer.Option(help="integrator scopes")] = None) -> None:
    """Create a staff account (prints the TOTP enrolment URI once) or an integrator client."""
    registry = _registry()
    with registry.sessions() as session:
        try:
            agency_id = agencies.agency_by_slug(session, slug=agency).id
            account, uri = accounts.create_staff(session, kit=registry.kit, caller=None, agency_id=agency_id,
                                                 data=AccountCreate(username=username, password=password, role=role,
                                                                    scopes=scope or []))
        except LookoutError as exc:
            _fail(exc)
        typer.echo(f"account {account.username} {account.id} role={account.role}")
        if uri:
            typer.echo(f"TOTP enrolment (scan or type into an authenticator app): {uri}")


@account_app.command("unlock")
def account_unlock(username: str) -> None:
    """Release a locked account (operator's override of a supervisor's release)."""
    registry = _registry()
    with registry.sessions() as session:
        account = _account(registry, session, username)
        if account is None:
            typer.echo(f"error: no account '{username}'", err=True)
            raise typer.Exit(2)
        account.locked_at = None
        account.failures_reset_at = utcnow()
        audit.record(session, caller=None, action="account.unlocked", object_type="account", object_id=account.id,
                     agency_id=account.agency_id)
        session.commit()
        typer.echo(f"unlocked {username}")


@agreement_app.command("create")
def agreement_create(grantor: str, grantee: str) -> None:
    """Let GRANTEE's investigators search GRANTOR's cameras (agency slugs)."""
    registry = _registry()
    with registry.sessions() as session:
        try:
            a = agencies.agency_by_slug(session, slug=grantor)
            b = agencies.agency_by_slug(session, slug=grantee)
            agreement = agencies.create_agreement(session, caller=None, grantor_id=a.id, grantee_id=b.id)
        except LookoutError as exc:
            _fail(exc)
        typer.echo(f"agreement {agreement.id}: {grantee} may search {grantor}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Verify the whole chain; exit 1 and name the first broken row if it was tampered with."""
    registry = _registry()
    with registry.sessions() as session:
        report = audit.verify_and_record(session, caller=None)
    if report.ok:
        typer.echo(f"audit chain intact: {report.rows_checked} rows")
        return
    typer.echo(f"audit chain BROKEN at row {report.first_broken_id}: {report.problem} "
               f"({report.rows_checked} rows intact before it)")
    raise typer.Exit(1)


@demo_app.command("seed")
def demo_seed(
    password: Annotated[str, typer.Option(help="password of every demo account")] = DEMO_PASSWORD,
) -> None:
    """Seed the demo: two agencies on real streets, staff, an owner and cameras (idempotent)."""
    from services.registry.demo.seed import seed

    registry = _registry()
    with registry.sessions() as session:
        for line in seed(session, registry=registry, password=password):
            typer.echo(line)


@demo_app.command("totp")
def demo_totp(username: str) -> None:
    """Print the current TOTP code of a staff account (demo convenience; needs the data key)."""
    registry = _registry()
    with registry.sessions() as session:
        account = _account(registry, session, username)
        secret = registry.kit.cipher.decrypt(account.totp_secret_enc) if account else None
        if not secret:
            typer.echo(f"error: '{username}' has no TOTP secret", err=True)
            raise typer.Exit(2)
        typer.echo(pyotp.TOTP(secret).now())


@outbox_app.command("relay")
def outbox_relay() -> None:
    """Publish pending registry events to the broker (REGISTRY_MQTT_*) until SIGINT or SIGTERM."""
    from services.registry.outbox.relay import OutboxRelay

    registry = _registry()
    if not registry.settings.mqtt.host:
        typer.echo("error: set REGISTRY_MQTT_HOST (and _PORT, _USERNAME, _PASSWORD, _TLS_CA)", err=True)
        raise typer.Exit(2)
    asyncio.run(OutboxRelay(registry.engine, registry.settings.mqtt).run_until_signalled())


@upkeep_app.command("mail")
def upkeep_mail() -> None:
    """Send the owner emails that are due now (a running registry does this every REGISTRY_MAIL_POLL_INTERVAL_S)."""
    from services.registry.notify.mailers import build_mailer
    from services.registry.notify.sender import send_due

    registry = _registry()
    mailer = build_mailer(registry.settings.mail)
    if mailer is None:
        typer.echo("error: REGISTRY_MAIL_BACKEND is none: nothing can be sent", err=True)
        raise typer.Exit(2)
    sent = send_due(registry.engine, mailer=mailer, cipher=registry.kit.cipher, settings=registry.settings.mail)
    typer.echo(f"sent {sent} notification(s)")


@upkeep_app.command("sweep")
def upkeep_sweep() -> None:
    """Expire overdue requests, delete evidence past retention, purge idle uploads (the registry does it too)."""
    from services.registry.maintenance import sweep

    report = sweep(_registry())
    typer.echo(f"requests expired {report.requests_expired}, evidence deleted {report.evidence_deleted}, "
               f"uploads purged {report.uploads_purged}")


@evidence_app.command("verify")
def evidence_verify(
    bundle: Annotated[Path, typer.Argument(help="the ZIP exported by POST /v1/cases/{case}/export")],
    jwks: Annotated[Path | None, typer.Option(help="the registry's key set (saved /.well-known/jwks.json): also "
                                                   "prove the manifest is the registry's")] = None,
) -> None:
    """Check an evidence bundle offline: every file's size and SHA-256, the manifest's hash, nothing extra."""
    from services.registry.evidence import signature
    from services.registry.evidence.verify import render, verify_bundle

    signed = True
    if jwks is None:
        kid = signature.key_id(str(bundle))
        typer.echo(f"signature: {'by key ' + kid + ', ' if kid else 'none, '}not checked (pass --jwks)")
    else:
        check = signature.check_signature(str(bundle), jwks)
        typer.echo(f"{'OK' if check.ok else 'FAILED'} signature: {check.message}")
        signed = check.ok
    report = verify_bundle(str(bundle))
    for line in render(report):  # the verdict on the files comes last
        typer.echo(line)
    if not (report.ok and signed):
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the `lookout` command."""
    sys.exit(app())


if __name__ == "__main__":  # `python -m services.registry.cli ...`, as the console script does
    main()
