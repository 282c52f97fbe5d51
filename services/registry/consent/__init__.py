"""Owners' consent grants: live access to one camera for one agency during a time window."""
