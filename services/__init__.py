"""Lookout: services."""
