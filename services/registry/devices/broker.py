"""Broker accounts of CORE devices: the registry creates one per enrolled box and removes it on revocation."""

from __future__ import annotations

from typing import Protocol


class BrokerAccounts(Protocol):
    """Where device MQTT accounts live (Mosquitto in production; nothing for the embedded demo broker)."""

    def add_device(self, device_id: str, password: str) -> None:
        """Create (or reset) the device's account; its username is the device id."""
        ...

    def remove_device(self, device_id: str) -> None:
        """Delete the device's account and disconnect it if it is connected."""
        ...


class NoBrokerAccounts:
    """For the embedded demo broker, which runs on loopback without accounts."""

    def add_device(self, device_id: str, password: str) -> None:
        """Nothing to create."""

    def remove_device(self, device_id: str) -> None:
        """Nothing to remove."""
