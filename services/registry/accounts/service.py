"""Sign-in with lockout, rate limit and TOTP; tokens; staff accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import STAFF_ROLES, Role, TokenVerifier
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from services.registry.accounts import passwords
from services.registry.accounts.models import Account, LoginAttempt
from services.registry.accounts.schemas import STAFF_CREATABLE, AccountCreate
from services.registry.accounts.tokens import TokenIssuer, TokenPair
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.crypto import ContactCipher
from services.registry.database import utcnow
from services.registry.owners.models import Owner
from services.registry.settings import SecuritySettings

INTEGRATOR_SCOPES = frozenset({"cameras:search", "registry:sync", "requests:write"})


@dataclass(frozen=True)
class AuthKit:
    """What sign-in needs: the cipher (for login digests), the hasher, the issuer and the limits."""

    cipher: ContactCipher
    hasher: PasswordHasher
    issuer: TokenIssuer
    settings: SecuritySettings
    dummy_hash: str  # verified for unknown logins, so they cost the same time as known ones


def session_max_s(role: str, settings: SecuritySettings) -> int:
    """How long a sign-in lasts before the person must authenticate again."""
    return settings.owner_session_max_s if role == Role.OWNER else settings.staff_session_max_s


def _claims(session: Session, account: Account) -> dict[str, object]:
    owner_id = session.scalar(select(Owner.id).where(Owner.account_id == account.id))
    return {
        "sub": str(account.id), "role": account.role,
        "agency": str(account.agency_id) if account.agency_id else None,
        "owner": str(owner_id) if owner_id else None, "scope": account.scopes,
    }


def _failures_since(session: Session, account: Account, kit: AuthKit) -> int:
    since = utcnow() - timedelta(seconds=kit.settings.lockout_window_s)
    if account.failures_reset_at and account.failures_reset_at > since:
        since = account.failures_reset_at
    return session.scalar(
        select(func.count()).where(LoginAttempt.login_digest == account.login_digest,
                                   LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since)
    ) or 0


def _check_source(session: Session, source: str, kit: AuthKit) -> None:
    since = utcnow() - timedelta(seconds=kit.settings.lockout_window_s)
    failures = session.scalar(
        select(func.count()).where(LoginAttempt.source == source, LoginAttempt.succeeded.is_(False),
                                   LoginAttempt.attempted_at > since)
    ) or 0
    if failures >= kit.settings.ip_failures_per_window:
        raise RateLimited("too many failed sign-ins from this address; try again later")


def _still_locked(account: Account, kit: AuthKit) -> bool:
    if account.locked_at is None:
        return False
    # Staff stay locked until a supervisor releases them; owners have no supervisor, so theirs expires.
    if account.role == Role.OWNER and utcnow() - account.locked_at > timedelta(seconds=kit.settings.owner_lockout_s):
        account.locked_at = None
        return False
    return True


def _fail(session: Session, account: Account | None, digest: str, source: str, kit: AuthKit) -> None:
    session.add(LoginAttempt(login_digest=digest, source=source, succeeded=False))
    session.flush()
    limit = kit.settings.lockout_failures
    if account and account.locked_at is None and _failures_since(session, account, kit) >= limit:
        account.locked_at = utcnow()
        audit.record(session, caller=None, action="account.locked", object_type="account",
                     object_id=account.id, agency_id=account.agency_id, outcome="locked")
    session.commit()


def login(session: Session, *, kit: AuthKit, username: str, password: str, totp: str | None,
          source: str) -> TokenPair:
    """Check credentials (and TOTP for staff) and return tokens; every failure counts toward lockout."""
    _check_source(session, source, kit)
    digest = kit.cipher.blind_index(username)
    account = session.scalar(select(Account).where(Account.login_digest == digest))
    if account is None:
        passwords.verify_password(kit.hasher, kit.dummy_hash, password)
        _fail(session, None, digest, source, kit)
        raise Unauthenticated("wrong user name or password", code="invalid_credentials")
    if _still_locked(account, kit):
        _fail(session, account, digest, source, kit)
        raise Locked("this account is locked after too many failed sign-ins; ask a supervisor")
    if account.disabled_at or not passwords.verify_password(kit.hasher, account.password_hash, password):
        _fail(session, account, digest, source, kit)
        raise Unauthenticated("wrong user name or password", code="invalid_credentials")
    if account.role in STAFF_ROLES:
        if not totp:
            raise Unauthenticated("a TOTP code is required for staff accounts", code="totp_required")
        secret = kit.cipher.decrypt(account.totp_secret_enc)
        if not secret or not passwords.totp_ok(secret, totp):
            _fail(session, account, digest, source, kit)
            raise Unauthenticated("wrong TOTP code", code="invalid_totp")
    session.add(LoginAttempt(login_digest=digest, source=source, succeeded=True))
    account.failures_reset_at = utcnow()
    pair = issue_tokens(session, kit=kit, account=account)
    session.commit()
    return pair


def issue_tokens(session: Session, *, kit: AuthKit, account: Account) -> TokenPair:
    """Tokens for an account that has just authenticated."""
    return kit.issuer.issue(_claims(session, account), auth_time=int(utcnow().timestamp()),
                            session_max_s=session_max_s(account.role, kit.settings))


def refresh(session: Session, *, kit: AuthKit, verifier: TokenVerifier, refresh_token: str) -> TokenPair:
    """A new access token for a live sign-in session; a locked or disabled account gets none."""
    principal = verifier.verify(refresh_token, typ="refresh")
    account = session.get(Account, principal.account_id)
    if account is None or account.disabled_at or account.locked_at:
        raise Unauthenticated("this account can no longer sign in", code="invalid_token")
    return kit.issuer.issue(_claims(session, account), auth_time=principal.auth_time,
                            session_max_s=session_max_s(account.role, kit.settings))


def create_staff(session: Session, *, kit: AuthKit, caller: Caller | None, agency_id: uuid.UUID,
                 data: AccountCreate) -> tuple[Account, str | None]:
    """Create a staff account or API client; staff get a TOTP secret, returned once as a URI."""
    if data.role not in STAFF_CREATABLE:
        raise InvalidInput(f"role '{data.role}' cannot be created here", field="role")
    bad = set(data.scopes) - INTEGRATOR_SCOPES
    if bad or (data.scopes and data.role != Role.INTEGRATOR):
        raise InvalidInput(f"unknown or misplaced scopes: {sorted(bad) or data.scopes}", field="scopes")
    digest = kit.cipher.blind_index(data.username)
    if session.scalar(select(Account.id).where(Account.login_digest == digest)):
        raise Conflict(f"user name '{data.username}' is taken", field="username")
    secret = passwords.new_totp_secret() if data.role in STAFF_ROLES else None
    account = Account(role=data.role, agency_id=agency_id, username=data.username, login_digest=digest,
                      password_hash=kit.hasher.hash(data.password), scopes=" ".join(sorted(data.scopes)),
                      totp_secret_enc=kit.cipher.encrypt(secret))
    session.add(account)
    session.flush()
    audit.record(session, caller=caller, action="account.created", object_type="account",
                 object_id=account.id, agency_id=agency_id, detail={"role": data.role})
    session.commit()
    uri = passwords.totp_uri(secret, account_name=data.username, issuer=kit.settings.totp_issuer) if secret else None
    return account, uri


def _agency_account(session: Session, caller: Caller, account_id: uuid.UUID) -> Account:
    account = session.get(Account, account_id)
    if account is None or account.agency_id != caller.principal.agency_id:
        raise NotFound("no such account in your agency")
    return account


def list_accounts(session: Session, *, caller: Caller) -> list[Account]:
    """The staff accounts and clients of the supervisor's agency."""
    return list(session.scalars(select(Account).where(Account.agency_id == caller.principal.agency_id)
                                .order_by(Account.username)))


def unlock(session: Session, *, caller: Caller, account_id: uuid.UUID) -> Account:
    """A supervisor releases a locked account of their agency."""
    account = _agency_account(session, caller, account_id)
    if account.id == caller.principal.account_id:
        raise Forbidden("a supervisor cannot release their own account")
    account.locked_at = None
    account.failures_reset_at = utcnow()
    audit.record(session, caller=caller, action="account.unlocked", object_type="account", object_id=account.id)
    session.commit()
    return account
