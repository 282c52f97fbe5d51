"""A real SMTP server (aiosmtpd) on a free loopback port that records what it accepts.

It can be stopped and started again on the same port (a mail server outage), told to answer RCPT or
DATA with any reply (`refuse("451 4.7.1 try later")`), and run with STARTTLS or implicit TLS and a
required login. Each accepted message records its envelope, its bytes, whether the session was
encrypted and which user logged in.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.pgcluster import free_port


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        """The parsed message (modern email policy), with the wire's CRLF line ends made plain newlines."""
        return cast(EmailMessage, message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=policy.default))


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.server.replies.get("rcpt"):
            return self.server.replies["rcpt"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.replies.get("data"):
            return self.server.replies["data"]
        transport = server.transport
        tls = session.ssl is not None or (transport is not None and transport.get_extra_info("ssl_object") is not None)
        auth = session.auth_data
        login = auth.login.decode() if session.authenticated and isinstance(auth, LoginPassword) else None
        content = envelope.original_content or b""
        self.server.record(Received(mail_from=str(envelope.mail_from), rcpt_tos=tuple(envelope.rcpt_tos),
                                    data=bytes(content), tls=tls, login=login))
        return "250 Message accepted for delivery"


class SmtpServer:
    """One aiosmtpd server; `start()` again after `stop()` reopens the same port."""

    def __init__(self, *, port: int | None = None, tls: Literal["none", "starttls", "implicit"] = "none",
                 cert_dir: Path | None = None, user: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.user = user
        self.replies: dict[str, str] = {}
        self.received: list[Received] = []
        self.logins_refused = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._server_tls: ssl.SSLContext | None = None
        if tls != "none":
            if cert_dir is None:
                raise ValueError("TLS needs cert_dir with server.crt and server.key")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_dir / "server.crt", cert_dir / "server.key")
            self._server_tls = context

    def record(self, received: Received) -> None:
        """Keep an accepted message (called from the server's thread)."""
        with self._lock:
            self.received.append(received)

    def messages(self) -> list[Received]:
        """What was accepted so far."""
        with self._lock:
            return list(self.received)

    def refuse(self, reply: str | None, *, at: Literal["rcpt", "data"] = "rcpt") -> None:
        """Answer every RCPT (or DATA) with `reply`, e.g. "451 4.7.1 later" or "550 5.1.1 no such user"; None
        accepts again."""
        if reply is None:
            self.replies.pop(at, None)
        else:
            self.replies[at] = reply

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (self.user is not None and isinstance(auth_data, LoginPassword)
              and (auth_data.login.decode(), auth_data.password.decode()) == self.user)
        if not ok:
            self.logins_refused += 1
        # handled=False lets aiosmtpd send the reply itself (235, or 535 for a wrong password).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _smtp_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.tls == "starttls":
            options.update(tls_context=self._server_tls, require_starttls=True)
        if self.user is not None:
            options["authenticator"] = self._authenticate
            if self.tls == "implicit":
                # Encrypted from the first byte, which aiosmtpd's AUTH-needs-TLS check (made for STARTTLS)
                # does not see; it also warns about AUTH required without that check, so the login is
                # optional here and tests assert on `Received.login` instead.
                options["auth_require_tls"] = False
            else:
                options["auth_required"] = True
        return options

    def start(self) -> SmtpServer:
        """Listen (again) on the port; returns when the server answers."""
        implicit = self._server_tls if self.tls == "implicit" else None
        controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, ssl_context=implicit,
                                ready_timeout=10, **self._smtp_options())
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening: clients now get "connection refused" (an outage)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Block until at least `count` messages were accepted; returns them all."""
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages())} of {count} messages arrived")
            time.sleep(0.02)
        return self.messages()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
