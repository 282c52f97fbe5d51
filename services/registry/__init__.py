"""Lookout: services/registry."""
