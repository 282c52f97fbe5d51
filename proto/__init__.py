"""The wire contract (MQTT topics and Protocol Buffers messages), built in the panic-path issue."""
