"""CORE agent for the owner's box: config, panic inputs, durable outbox, MQTT link; imports proto/ and itself only."""

__version__ = "0.1.0"
FIRMWARE = f"lookout-core/{__version__}"
