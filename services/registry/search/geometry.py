"""Pure geometry for search results: bearings, field-of-view cones, approximate sizes."""

from __future__ import annotations

import itertools
import math
from typing import Any

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def initial_bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Compass bearing (0 = north, clockwise) from the first point toward the second."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def covers(*, camera: tuple[float, float], bearing_deg: float, fov_deg: float, range_m: float,
           target: tuple[float, float]) -> bool:
    """True when the target lies inside the camera's cone: within range and within half the FOV of its bearing."""
    distance = haversine_m(*camera, *target)
    if distance > range_m:
        return False
    if fov_deg >= 360 or distance < 1.0:  # under a metre, the direction is noise
        return True
    towards = initial_bearing(*camera, *target)
    off_axis = abs((towards - bearing_deg + 180.0) % 360.0 - 180.0)
    return off_axis <= fov_deg / 2


def approx_area_km2(geom: Any) -> float:
    """Area of a lon/lat polygon in km², scaled at its centroid's latitude (good to a few percent)."""
    lat = geom.centroid.y
    return float(geom.area) * (111.32**2) * math.cos(math.radians(lat))


def line_length_m(coords: list[tuple[float, float]]) -> float:
    """Length of a lon/lat polyline in metres."""
    return sum(haversine_m(*a, *b) for a, b in itertools.pairwise(coords))
