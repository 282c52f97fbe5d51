"""Alert service: panic alerts and their lifecycle (built in the panic-path issue)."""
