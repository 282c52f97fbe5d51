"""`python -m demo consent`: the owner shares the Driveway camera for an hour, a dispatcher starts watching it.

What `make consent` shows: no panic, no alert, only the owner's consent. The owner can stop it at any moment
(`DELETE /v1/cameras/{camera_id}/grants/{grant_id}`, or "stop sharing" on the box's page).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from demo import config
from demo.watch import _sign_in

OWNER = "owner@example.org"


def _owner_token() -> str:
    login = httpx.post(f"{config.registry_url()}/v1/auth/login", json={"username": OWNER, "password": config.PASSWORD})
    return str(login.raise_for_status().json()["access_token"])


def _live_camera(headers: dict[str, str]) -> dict[str, str]:
    registry = config.registry_url()
    for site in httpx.get(f"{registry}/v1/sites", headers=headers).raise_for_status().json():
        for camera in httpx.get(f"{registry}/v1/sites/{site['id']}/cameras", headers=headers).json():
            if camera.get("core_enabled") and camera.get("sharing_mode") in ("live_on_consent", "live_on_alert"):
                return dict(camera)
    raise SystemExit(f"{OWNER} has no CORE camera that may be shared live")


def consent(dispatcher: str = "dispatch.clermont") -> None:
    """Grant one hour of live viewing as the owner, start the consent session as the dispatcher, print the link."""
    owner = {"Authorization": f"Bearer {_owner_token()}"}
    camera = _live_camera(owner)
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    grant = httpx.post(f"{config.registry_url()}/v1/cameras/{camera['id']}/grants", headers=owner,
                       json={"expires_at": until}).raise_for_status().json()
    print(f"{OWNER} shares '{camera['label']}' until {grant['expires_at']} (grant {grant['id']})", flush=True)
    token = _sign_in(dispatcher)
    session = httpx.post(f"{config.streams_url()}/v1/consent-sessions", json={"camera_id": camera["id"]},
                         headers={"Authorization": f"Bearer {token}"})
    if session.status_code == 409:  # the grant travels registry -> outbox -> broker -> relay: a moment, at most
        raise SystemExit(f"the relay has not heard of the grant yet ({session.json()['error']['message']}): "
                         "run `make consent` again")
    session.raise_for_status()
    print(f"{dispatcher} is watching (session {session.json()['session_id']}). Open:\n"
          f"  {config.streams_url()}/live/#token={token}\n"
          f"Stop sharing: curl -XDELETE {config.registry_url()}/v1/cameras/{camera['id']}/grants/{grant['id']} "
          f"-H 'authorization: Bearer <owner token>'", flush=True)
