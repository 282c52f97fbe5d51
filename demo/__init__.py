"""The one-process demo of `make run`: embedded MQTT broker, registry, alerts and a simulated CORE box."""
