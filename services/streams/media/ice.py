"""Which host addresses ICE offers. aioice never offers 127.0.0.1; a one-machine setup needs exactly that."""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice

# Another part of the same process may have replaced it already; its replacement remembers aioice's own.
_default = getattr(aioice.ice.get_host_addresses, "lookout_original", aioice.ice.get_host_addresses)


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    """Gather host candidates only on these addresses (process-wide, as aioice has no per-connection option)."""
    if not addresses:
        aioice.ice.get_host_addresses = _default
        return
    chosen = list(addresses)

    def only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    only.lookout_original = _default  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = only
