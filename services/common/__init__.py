"""Lookout: services/common."""
