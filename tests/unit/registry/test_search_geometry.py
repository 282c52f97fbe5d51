"""Pure search geometry: distances, bearings and field-of-view cones."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Polygon

from services.registry.search.geometry import (
    EARTH_RADIUS_M,
    approx_area_km2,
    covers,
    haversine_m,
    initial_bearing,
    line_length_m,
)

CLERMONT = (-81.7745, 28.5567)


def destination(lon: float, lat: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point `distance_m` from (lon, lat) along the initial bearing (spherical, same radius as the code)."""
    d = distance_m / EARTH_RADIUS_M
    b = math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(l2), math.degrees(p2)


# --- haversine -----------------------------------------------------------------------------------------------------

def test_haversine_zero_for_same_point() -> None:
    assert haversine_m(*CLERMONT, *CLERMONT) == 0


def test_haversine_one_degree_of_latitude() -> None:
    # one degree along a meridian is R * pi / 180 on the sphere, ~111.2 km
    assert haversine_m(0, 0, 0, 1) == pytest.approx(EARTH_RADIUS_M * math.pi / 180, rel=1e-9)
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, abs=5)


def test_haversine_longitude_shrinks_with_latitude() -> None:
    at_equator = haversine_m(0, 0, 1, 0)
    at_clermont = haversine_m(-81.0, 28.5567, -80.0, 28.5567)
    assert at_clermont == pytest.approx(at_equator * math.cos(math.radians(28.5567)), rel=1e-3)


def test_haversine_symmetric_and_antipodal() -> None:
    a, b = (-81.77, 28.55), (2.35, 48.86)
    assert haversine_m(*a, *b) == pytest.approx(haversine_m(*b, *a))
    assert haversine_m(0, 0, 180, 0) == pytest.approx(math.pi * EARTH_RADIUS_M, rel=1e-9)


def test_haversine_known_city_pair() -> None:
    # Orlando (MCO) to Tampa (TPA) is roughly 128 km great-circle
    assert haversine_m(-81.3081, 28.4294, -82.5332, 27.9755) == pytest.approx(128_000, rel=0.02)


# --- initial bearing -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("dlon", "dlat", "expected"), [
    (0, 0.01, 0), (0.01, 0, 90), (0, -0.01, 180), (-0.01, 0, 270),
])
def test_initial_bearing_cardinal_directions(dlon: float, dlat: float, expected: float) -> None:
    lon, lat = CLERMONT
    bearing = initial_bearing(lon, lat, lon + dlon, lat + dlat)
    # east/west on a parallel start a hair off 90/270 on the sphere; far under a degree here
    assert abs((bearing - expected + 180) % 360 - 180) < 0.01


def test_initial_bearing_is_in_0_360() -> None:
    lon, lat = CLERMONT
    for bearing in range(0, 360, 15):
        target = destination(lon, lat, bearing, 100)
        got = initial_bearing(lon, lat, *target)
        assert 0 <= got < 360
        assert abs((got - bearing + 180) % 360 - 180) < 1e-6


def test_initial_bearing_just_west_of_north_is_near_360_not_negative() -> None:
    lon, lat = CLERMONT
    got = initial_bearing(lon, lat, *destination(lon, lat, 355, 100))
    assert got == pytest.approx(355, abs=1e-6)


# --- covers --------------------------------------------------------------------------------------------------------

def _covers(bearing: float, fov: float, range_m: float, target_bearing: float, target_m: float) -> bool:
    target = destination(*CLERMONT, target_bearing, target_m)
    return covers(camera=CLERMONT, bearing_deg=bearing, fov_deg=fov, range_m=range_m, target=target)


def test_camera_facing_the_point_covers_it() -> None:
    assert _covers(bearing=0, fov=90, range_m=50, target_bearing=0, target_m=30)


def test_camera_facing_away_does_not_cover_the_point() -> None:
    assert not _covers(bearing=180, fov=90, range_m=50, target_bearing=0, target_m=30)
    assert not _covers(bearing=90, fov=90, range_m=50, target_bearing=270, target_m=10)


@pytest.mark.parametrize(("offset", "inside"), [(44.5, True), (-44.5, True), (45.5, False), (-45.5, False)])
def test_edge_of_field_of_view(offset: float, inside: bool) -> None:
    assert _covers(bearing=120, fov=90, range_m=50, target_bearing=120 + offset, target_m=30) is inside


def test_narrow_field_of_view() -> None:
    assert _covers(bearing=45, fov=10, range_m=100, target_bearing=49, target_m=80)
    assert not _covers(bearing=45, fov=10, range_m=100, target_bearing=51, target_m=80)


def test_beyond_range_is_not_covered() -> None:
    assert _covers(bearing=0, fov=90, range_m=50, target_bearing=0, target_m=49)
    assert not _covers(bearing=0, fov=90, range_m=50, target_bearing=0, target_m=51)
    assert not _covers(bearing=0, fov=360, range_m=50, target_bearing=0, target_m=200)


@pytest.mark.parametrize("target_bearing", [0, 90, 179.9, 180, 270, 359])
def test_360_degree_camera_covers_every_direction_in_range(target_bearing: float) -> None:
    assert _covers(bearing=17, fov=360, range_m=60, target_bearing=target_bearing, target_m=40)


@pytest.mark.parametrize(("bearing", "target_bearing", "fov", "inside"), [
    (350, 10, 60, True),    # 20 degrees across north
    (10, 350, 60, True),
    (350, 10, 30, False),   # 20 degrees off, half-FOV only 15
    (10, 350, 30, False),
    (355, 0, 20, True),
    (0, 359, 4, True),
    (5, 185, 90, False),    # directly behind
])
def test_bearing_wraps_around_north(bearing: float, target_bearing: float, fov: float, inside: bool) -> None:
    assert _covers(bearing=bearing, fov=fov, range_m=100, target_bearing=target_bearing, target_m=50) is inside


def test_target_on_the_camera_is_covered() -> None:
    assert covers(camera=CLERMONT, bearing_deg=0, fov_deg=10, range_m=5, target=CLERMONT)


# --- sizes ---------------------------------------------------------------------------------------------------------

def test_line_length_sums_segments() -> None:
    lon, lat = CLERMONT
    a = (lon, lat)
    b = destination(lon, lat, 90, 500)
    c = destination(*b, 0, 300)
    assert line_length_m([a, b, c]) == pytest.approx(800, abs=0.5)
    assert line_length_m([a]) == 0


def test_approx_area_of_a_small_square() -> None:
    lon, lat = CLERMONT
    dlat = 1 / 111.195          # ~1 km north-south
    dlon = dlat / math.cos(math.radians(lat))  # ~1 km east-west
    square = Polygon([(lon, lat), (lon + dlon, lat), (lon + dlon, lat + dlat), (lon, lat + dlat)])
    assert approx_area_km2(square) == pytest.approx(1.0, rel=0.03)
