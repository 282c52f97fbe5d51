"""The registry's event outbox: changes and their MQTT events in one transaction, published by a relay."""
