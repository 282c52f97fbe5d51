"""Who is calling and from where: what every audited service function needs to know."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.auth import Principal, Role


@dataclass(frozen=True)
class Caller:
    """An authenticated principal plus the source address of the request."""

    principal: Principal
    source: str | None = None

    @property
    def role(self) -> Role:
        """The caller's role."""
        return self.principal.role


SYSTEM_ROLE = "system"  # actor_role of audit rows written by the admin CLI
