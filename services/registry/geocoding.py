"""Turning a street address into a point: none by default, or any Nominatim-compatible HTTP service."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from services.registry.settings import GeocoderSettings

log = logging.getLogger("lookout.registry.geocoding")


class Geocoder(Protocol):
    """Anything that can find (lon, lat) for an address, or say it cannot."""

    def locate(self, address: str) -> tuple[float, float] | None:
        """(lon, lat) of the best match, or None."""
        ...


class NoGeocoder:
    """The default: addresses are never geocoded, the owner's pin is used."""

    def locate(self, address: str) -> tuple[float, float] | None:
        """Always None."""
        return None


class NominatimGeocoder:
    """Queries `/search?format=jsonv2&limit=1&q=...` on a Nominatim-compatible server."""

    def __init__(self, settings: GeocoderSettings) -> None:
        self._client = httpx.Client(base_url=settings.url, timeout=settings.timeout_s,
                                    headers={"User-Agent": settings.user_agent})

    def locate(self, address: str) -> tuple[float, float] | None:
        """(lon, lat) of the first hit; None when nothing matches or the service fails."""
        try:
            response = self._client.get("/search", params={"q": address, "format": "jsonv2", "limit": 1})
            response.raise_for_status()
            hits = response.json()
            if not hits:
                return None
            lon, lat = float(hits[0]["lon"]), float(hits[0]["lat"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("geocoder failed: %s", type(exc).__name__)
            return None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return None
        return lon, lat


def build_geocoder(settings: GeocoderSettings) -> Geocoder:
    """The geocoder the settings ask for."""
    return NominatimGeocoder(settings) if settings.kind == "nominatim" else NoGeocoder()
