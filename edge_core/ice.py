"""Which local addresses aioice offers as host candidates (`[live] ice_host_addresses`).

aioice gathers host candidates from every interface except 127.0.0.1 and link-local IPv6, with no option
to choose (aioice.ice.get_host_addresses). A box with several interfaces (LAN, VPN, docker bridges) should
offer only the one that reaches the relay, and the tests run on loopback only: so that one function is
replaced here, process-wide, by one returning the configured addresses. Empty = aioice's own choice.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import aioice.ice

# Another part of the same process may have replaced it already; its replacement remembers aioice's own.
_ORIGINAL = getattr(aioice.ice.get_host_addresses, "lookout_original", aioice.ice.get_host_addresses)


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    """Make aioice gather host candidates on exactly these addresses (empty: restore its default)."""
    if not addresses:
        aioice.ice.get_host_addresses = _ORIGINAL
        return
    chosen = [str(ipaddress.ip_address(a)) for a in addresses]

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (use_ipv4 if ipaddress.ip_address(a).version == 4 else use_ipv6)]

    configured.lookout_original = _ORIGINAL  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = configured
