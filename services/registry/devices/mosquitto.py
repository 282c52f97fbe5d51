"""Device and service accounts on the production Mosquitto, through its dynamic-security plugin.

Mosquitto 2.0's dynamic-security ACLs do not expand `%u`/`%c`, so every device gets its own role whose ACLs
name its own topics literally, and a client-id binding (client id must equal the username). Commands go
over MQTT to `$CONTROL/dynamic-security/v1` with a short-lived admin connection; the plugin saves its JSON
file itself and applies changes at once (deleting a client disconnects it).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from proto.topics import PREFIX, check_id

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
DEVICE_ROLE_PREFIX = "device-"
SERVICES = ("registry", "alerts", "streams")

Acl = dict[str, Any]


class BrokerAdminError(RuntimeError):
    """The broker refused a dynamic-security command, or did not answer in time."""


def _acl(acltype: str, topic: str) -> Acl:
    return {"acltype": acltype, "topic": topic, "allow": True}


def _reads(topic_filter: str) -> list[Acl]:
    kind = "subscribePattern" if ("+" in topic_filter or "#" in topic_filter) else "subscribeLiteral"
    return [_acl(kind, topic_filter), _acl("publishClientReceive", topic_filter)]


def device_acls(device_id: str) -> list[Acl]:
    """The literal ACLs of one device: publish under its own topics, read its own commands and answers."""
    base = f"{PREFIX}/devices/{check_id(device_id, 'device_id')}"
    sends = [f"{base}/status", f"{base}/events/panic", f"{base}/webrtc/+/offer", f"{base}/webrtc/+/candidate"]
    acls = [_acl("publishClientSend", topic) for topic in sends]
    for topic in (f"{base}/commands", f"{base}/webrtc/+/answer", f"{base}/webrtc/+/candidate"):
        acls += _reads(topic)
    return acls


_ALL = f"{PREFIX}/devices/+"
_SERVICE_RIGHTS: dict[str, tuple[list[str], list[str]]] = {  # service: (publishes, reads)
    "registry": ([f"{PREFIX}/registry/#", f"{_ALL}/commands"], [f"{_ALL}/status"]),
    "alerts": ([f"{PREFIX}/alerts/#", f"{_ALL}/commands"],
               [f"{_ALL}/events/panic", f"{_ALL}/status", f"{PREFIX}/registry/#"]),
    "streams": ([f"{_ALL}/commands", f"{_ALL}/webrtc/+/answer", f"{_ALL}/webrtc/+/candidate"],
                [f"{_ALL}/commands", f"{_ALL}/webrtc/+/offer", f"{_ALL}/webrtc/+/candidate", f"{_ALL}/status",
                 f"{PREFIX}/alerts/#",
                 f"{PREFIX}/registry/#"]),
}


def service_acls(service: str) -> list[Acl]:
    """A service's ACLs; every read is also allowed as the MQTT 5 shared subscription `$share/{service}/...`."""
    publishes, reads = _SERVICE_RIGHTS[service]
    acls = [_acl("publishClientSend", topic) for topic in publishes]
    for topic_filter in reads:
        # Mosquitto 2.0 checks a shared subscription's ACL on the whole `$share/group/filter`.
        acls += [*_reads(topic_filter), _acl("subscribePattern", f"$share/{service}/{topic_filter}")]
    return acls


DEFAULT_ACL_ACCESS = [
    {"acltype": "publishClientSend", "allow": False},
    {"acltype": "publishClientReceive", "allow": False},
    {"acltype": "subscribe", "allow": False},
    {"acltype": "unsubscribe", "allow": True},
]


@dataclass(frozen=True)
class _Outcome:
    command: str
    error: str | None
    data: Any


class MosquittoAccounts:
    """BrokerAccounts on Mosquitto's dynamic-security plugin (synchronous; one connection per call)."""

    def __init__(self, host: str, port: int, admin_username: str, admin_password: str, *,
                 ca_file: str | None = None, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.admin_username = admin_username
        self.admin_password = admin_password
        self.ca_file = ca_file
        self.timeout = timeout

    # --- BrokerAccounts -------------------------------------------------------------------------

    def add_device(self, device_id: str, password: str) -> None:
        """Create (or reset) the device's account: its own role, username = client id = device id."""
        check_id(device_id, "device_id")
        if not password:
            raise ValueError("empty device password")
        role = DEVICE_ROLE_PREFIX + device_id
        self.run([{"command": "createRole", "rolename": role, "acls": device_acls(device_id)}],
                 tolerate={"Role already exists"})
        created = self.run([{"command": "createClient", "username": device_id, "password": password,
                             "clientid": device_id, "roles": [{"rolename": role}]}],
                           tolerate={"Client already exists"})
        if created[0].error is None:
            return
        self.run([{"command": "modifyClient", "username": device_id, "password": password, "clientid": device_id,
                   "roles": [{"rolename": role}]},
                  {"command": "enableClient", "username": device_id}])

    def remove_device(self, device_id: str) -> None:
        """Delete the device's account and role; the broker disconnects it if it is connected."""
        check_id(device_id, "device_id")
        self.run([{"command": "deleteClient", "username": device_id},
                  {"command": "deleteRole", "rolename": DEVICE_ROLE_PREFIX + device_id}],
                 tolerate={"Client not found", "Role not found"})

    # --- bootstrap and administration -----------------------------------------------------------

    def setup_services(self, passwords: dict[str, str]) -> None:
        """Deny-by-default access, the service roles, and (re)set the given service accounts' passwords."""
        unknown = set(passwords) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services: {sorted(unknown)}")
        self.run([{"command": "setDefaultACLAccess", "acls": DEFAULT_ACL_ACCESS}])
        for service in SERVICES:
            self.run([{"command": "createRole", "rolename": f"service-{service}", "acls": service_acls(service)}],
                     tolerate={"Role already exists"})
        for service, password in passwords.items():
            self.add_client(service, password, roles=[f"service-{service}"])

    def add_client(self, username: str, password: str, *, roles: list[str], clientid: str | None = None) -> None:
        """Create a client with the given roles, or reset its password if it exists."""
        command: dict[str, Any] = {"command": "createClient", "username": username, "password": password,
                                   "roles": [{"rolename": role} for role in roles]}
        if clientid is not None:
            command["clientid"] = clientid
        if self.run([command], tolerate={"Client already exists"})[0].error is not None:
            self.run([{"command": "setClientPassword", "username": username, "password": password}])

    def run(self, commands: list[dict[str, Any]], *, tolerate: frozenset[str] | set[str] = frozenset()
            ) -> list[_Outcome]:
        """Send commands in one request and return their outcomes; raise on any error not in `tolerate`."""
        tagged = [dict(command, correlationData=uuid.uuid4().hex) for command in commands]
        responses = self._exchange(tagged)
        outcomes = []
        for command in tagged:
            response = responses.get(command["correlationData"])
            if response is None:
                raise BrokerAdminError(f"no answer to {command['command']}")
            error = response.get("error")
            if error is not None and error not in tolerate:
                raise BrokerAdminError(f"{command['command']} refused by the broker: {error}")
            outcomes.append(_Outcome(command["command"], error, response.get("data")))
        return outcomes

    def _exchange(self, commands: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        wanted = {command["correlationData"] for command in commands}
        answers: dict[str, dict[str, Any]] = {}
        done, ready = threading.Event(), threading.Event()
        failure: list[str] = []

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"lookout-dynsec-{uuid.uuid4().hex[:12]}",
                             protocol=mqtt.MQTTv5)
        client.username_pw_set(self.admin_username, self.admin_password)
        if self.ca_file:
            client.tls_set(ca_certs=self.ca_file)

        def on_connect(c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object = None) -> None:
            if reason.is_failure:
                failure.append(f"admin login refused: {reason}")
                ready.set()
            else:
                c.subscribe(RESPONSE_TOPIC, qos=1)

        def on_subscribe(_c: mqtt.Client, _u: object, _m: int, reasons: list[Any], _p: object = None) -> None:
            if any(r.is_failure for r in reasons):
                failure.append(f"cannot subscribe to {RESPONSE_TOPIC}: {reasons}")
            ready.set()

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            try:
                body = json.loads(message.payload)
            except ValueError:
                return
            for response in body.get("responses", []):
                tag = response.get("correlationData")
                if tag in wanted:
                    answers[tag] = response
            if wanted <= answers.keys():
                done.set()

        def on_disconnect(_c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object = None) -> None:
            if not done.is_set():
                failure.append(f"disconnected by the broker: {reason}")
                ready.set()
                done.set()

        client.on_connect, client.on_subscribe = on_connect, on_subscribe
        client.on_message, client.on_disconnect = on_message, on_disconnect
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise BrokerAdminError(f"cannot reach the broker at {self.host}:{self.port}: {exc}") from exc
        client.loop_start()
        try:
            if not ready.wait(self.timeout):
                raise BrokerAdminError(f"broker at {self.host}:{self.port} did not answer within {self.timeout}s")
            if not failure:
                info = client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    raise BrokerAdminError(f"cannot send the commands: {mqtt.error_string(info.rc)}")
                if not done.wait(self.timeout):
                    raise BrokerAdminError(f"no dynamic-security response within {self.timeout}s")
            if failure:
                raise BrokerAdminError(failure[0])
            return answers
        finally:
            client.disconnect()
            client.loop_stop()


def main(argv: list[str] | None = None) -> None:
    """Bootstrap a broker: default ACL access, service roles and the service accounts whose password is set."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--admin", default="admin")
    parser.add_argument("--cafile")
    args = parser.parse_args(argv)
    admin_password = os.environ.get("LOOKOUT_MQTT_ADMIN_PASSWORD", "")
    if not admin_password:
        parser.error("set LOOKOUT_MQTT_ADMIN_PASSWORD")
    passwords = {name: os.environ[f"LOOKOUT_MQTT_{name.upper()}_PASSWORD"] for name in SERVICES
                 if os.environ.get(f"LOOKOUT_MQTT_{name.upper()}_PASSWORD")}
    MosquittoAccounts(args.host, args.port, args.admin, admin_password, ca_file=args.cafile).setup_services(passwords)
    print(f"default ACL access, service roles and accounts {sorted(passwords)} are set up")


if __name__ == "__main__":
    main()
