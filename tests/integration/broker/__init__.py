"""Integration tests of the production Mosquitto configuration (deploy/mosquitto)."""
