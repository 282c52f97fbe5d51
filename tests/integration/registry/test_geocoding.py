"""The Nominatim-compatible geocoder against a real tiny HTTP server on loopback, and sites placed by address."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.registry.app import create_app
from services.registry.deps import Registry, get_session
from services.registry.geocoding import NoGeocoder, NominatimGeocoder, build_geocoder
from services.registry.settings import GeocoderSettings
from tests import builders as b

pytestmark = pytest.mark.spatialite

WEST_LON, WEST_LAT = -81.7745, 28.5567
EAST_LON, EAST_LAT = -81.7200, 28.5500


def hit(lon: float | str, lat: float | str) -> list[dict[str, Any]]:
    """A Nominatim jsonv2 answer with one result (coordinates are strings, as Nominatim sends them)."""
    return [{"place_id": 1, "licence": "test", "osm_type": "node", "osm_id": 1, "lat": str(lat), "lon": str(lon),
             "category": "place", "type": "house", "place_rank": 30, "importance": 0.1, "addresstype": "place",
             "name": "", "display_name": "somewhere", "boundingbox": [str(lat), str(lat), str(lon), str(lon)]}]


# What the fake server answers, by query: (status, body bytes).
ANSWERS: dict[str, tuple[int, bytes]] = {
    "742 W Montrose St, Clermont, FL": (200, json.dumps(hit(WEST_LON, WEST_LAT)).encode()),
    "100 E Main St, Minneola, FL": (200, json.dumps(hit(EAST_LON, EAST_LAT)).encode()),
    "nowhere at all": (200, b"[]"),
    "server broken": (500, b'{"error": "internal"}'),
    "garbage json": (200, b"<html>not json</html>"),
    "wrong shape": (200, b'{"lat": "28.5", "lon": "-81.7"}'),
    "missing lon": (200, json.dumps([{"lat": "28.5"}]).encode()),
    "not a number": (200, json.dumps(hit("east-ish", "north-ish")).encode()),
    "off the globe": (200, json.dumps(hit(200, 95)).encode()),
    "in the sea": (200, json.dumps(hit(-60.0, 20.0)).encode()),
    "redirected": (302, b""),
}


class FakeNominatim:
    """A real HTTP server on a free loopback port, answering /search like Nominatim."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                outer.requests.append({"path": url.path, "params": params,
                                       "user_agent": self.headers.get("User-Agent")})
                query = params.get("q", "")
                if url.path != "/search":
                    status, body = 404, b"[]"
                elif query == "slow":
                    time.sleep(1.0)
                    status, body = 200, json.dumps(hit(WEST_LON, WEST_LAT)).encode()
                else:
                    status, body = ANSWERS.get(query, (200, b"[]"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if status == 302:
                    self.send_header("Location", "/elsewhere")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> FakeNominatim:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    with FakeNominatim() as server:
        yield server


@pytest.fixture
def geocoder(nominatim: FakeNominatim) -> Iterator[NominatimGeocoder]:
    coder = NominatimGeocoder(GeocoderSettings(kind="nominatim", url=nominatim.url, timeout_s=0.3,
                                               user_agent="lookout-tests/1.0"))
    yield coder
    coder._client.close()


# --- the geocoder alone --------------------------------------------------------------------------------------------

def test_finds_the_point_of_an_address(geocoder: NominatimGeocoder, nominatim: FakeNominatim) -> None:
    assert geocoder.locate("742 W Montrose St, Clermont, FL") == pytest.approx((WEST_LON, WEST_LAT))
    [request] = nominatim.requests
    assert request["path"] == "/search"
    assert request["params"] == {"q": "742 W Montrose St, Clermont, FL", "format": "jsonv2", "limit": "1"}
    assert request["user_agent"] == "lookout-tests/1.0"


def test_returns_lon_then_lat(geocoder: NominatimGeocoder) -> None:
    lon, lat = geocoder.locate("100 E Main St, Minneola, FL") or (None, None)
    assert (lon, lat) == pytest.approx((EAST_LON, EAST_LAT))


@pytest.mark.parametrize("query", ["nowhere at all", "server broken", "garbage json", "wrong shape", "missing lon",
                                   "not a number", "off the globe", "redirected", "slow"])
def test_failures_and_misses_give_none(geocoder: NominatimGeocoder, nominatim: FakeNominatim, query: str) -> None:
    assert geocoder.locate(query) is None
    assert nominatim.requests and nominatim.requests[0]["params"]["q"] == query


def test_unreachable_server_gives_none() -> None:
    with FakeNominatim() as server:
        url = server.url
    coder = NominatimGeocoder(GeocoderSettings(kind="nominatim", url=url, timeout_s=0.5))
    try:
        assert coder.locate("742 W Montrose St, Clermont, FL") is None
    finally:
        coder._client.close()


def test_odd_addresses_are_sent_safely(geocoder: NominatimGeocoder, nominatim: FakeNominatim) -> None:
    address = "12 Rue & Co #4 ?q=evil/../ 🙂"
    assert geocoder.locate(address) is None  # the server does not know it...
    assert nominatim.requests[0]["params"]["q"] == address  # ...but received it intact, as one parameter
    assert nominatim.requests[0]["path"] == "/search"


def test_build_geocoder_follows_the_settings(nominatim: FakeNominatim) -> None:
    assert isinstance(build_geocoder(GeocoderSettings()), NoGeocoder)
    assert NoGeocoder().locate("742 W Montrose St, Clermont, FL") is None
    built = build_geocoder(GeocoderSettings(kind="nominatim", url=nominatim.url))
    assert isinstance(built, NominatimGeocoder)
    try:
        assert built.locate("742 W Montrose St, Clermont, FL") == pytest.approx((WEST_LON, WEST_LAT))
        assert nominatim.requests[0]["user_agent"] == "lookout-registry"
    finally:
        built._client.close()


# --- sites placed by address ---------------------------------------------------------------------------------------

@pytest.fixture
def geo_client(registry: Registry, db: Session, geocoder: NominatimGeocoder) -> Iterator[TestClient]:
    """The API with the Nominatim geocoder pointed at the fake server."""
    app = create_app(registry=dataclasses.replace(registry, geocoder=geocoder))
    app.dependency_overrides[get_session] = lambda: db
    yield TestClient(app)


def test_without_a_geocoder_an_address_needs_a_pin(client: TestClient, db: Session, registry: Registry) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    response = client.post("/v1/sites", headers=owner.headers,
                           json={"kind": "residential", "address": "742 W Montrose St, Clermont, FL"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "location"
    assert client.get("/v1/sites", headers=owner.headers).json() == []


def test_with_nominatim_the_site_gets_the_geocoded_point(geo_client: TestClient, db: Session, registry: Registry,
                                                         nominatim: FakeNominatim) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    response = geo_client.post("/v1/sites", headers=owner.headers,
                               json={"kind": "residential", "address": "742 W Montrose St, Clermont, FL"})
    assert response.status_code == 201, response.text
    site = response.json()
    assert site["location"] == pytest.approx({"lon": WEST_LON, "lat": WEST_LAT})
    assert site["agency_id"] == str(west.id)
    assert [r["params"]["q"] for r in nominatim.requests] == ["742 W Montrose St, Clermont, FL"]

    other = geo_client.post("/v1/sites", headers=owner.headers,
                            json={"kind": "commercial", "address": "100 E Main St, Minneola, FL"})
    assert other.status_code == 201, other.text
    assert other.json()["agency_id"] == str(east.id)
    assert other.json()["location"] == pytest.approx({"lon": EAST_LON, "lat": EAST_LAT})

    # a camera added without a point stands at the geocoded site's point
    cam = geo_client.post(f"/v1/sites/{site['id']}/cameras", headers=owner.headers,
                          json={"label": "Porch", "bearing_deg": 0, "fov_deg": 90, "range_m": 30,
                                "retention_days": 7})
    assert cam.status_code == 201, cam.text
    assert cam.json()["location"] == pytest.approx({"lon": WEST_LON, "lat": WEST_LAT})


def test_a_pin_wins_over_the_geocoder(geo_client: TestClient, db: Session, registry: Registry,
                                      nominatim: FakeNominatim) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    pin = {"lon": -81.7800, "lat": 28.5600}
    response = geo_client.post("/v1/sites", headers=owner.headers,
                               json={"kind": "residential", "address": "742 W Montrose St, Clermont, FL",
                                     "location": pin})
    assert response.status_code == 201, response.text
    assert response.json()["location"] == pytest.approx(pin)
    assert nominatim.requests == []  # not even asked


@pytest.mark.parametrize("address", ["nowhere at all", "server broken", "garbage json", "off the globe"])
def test_unplaceable_address_is_refused_naming_location(geo_client: TestClient, db: Session, registry: Registry,
                                                        address: str) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    response = geo_client.post("/v1/sites", headers=owner.headers, json={"kind": "residential", "address": address})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "location"
    assert geo_client.get("/v1/sites", headers=owner.headers).json() == []


def test_geocoded_point_outside_every_agency_is_refused(geo_client: TestClient, db: Session,
                                                        registry: Registry) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    response = geo_client.post("/v1/sites", headers=owner.headers,
                               json={"kind": "residential", "address": "in the sea"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "location"


def test_new_address_moves_the_site_when_it_can_be_placed(geo_client: TestClient, db: Session,
                                                          registry: Registry) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner, lon=-81.7800, lat=28.5600, address="old place")
    moved = geo_client.patch(f"/v1/sites/{site.id}", headers=owner.headers,
                             json={"address": "100 E Main St, Minneola, FL"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["location"] == pytest.approx({"lon": EAST_LON, "lat": EAST_LAT})
    assert moved.json()["agency_id"] == str(east.id)
    # an address the geocoder cannot place changes the text but keeps the point
    kept = geo_client.patch(f"/v1/sites/{site.id}", headers=owner.headers, json={"address": "nowhere at all"})
    assert kept.status_code == 200, kept.text
    assert kept.json()["address"] == "nowhere at all"
    assert kept.json()["location"] == pytest.approx({"lon": EAST_LON, "lat": EAST_LAT})
    assert kept.json()["agency_id"] == str(east.id) != str(west.id)
