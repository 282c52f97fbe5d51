"""Agencies, their jurisdictions and sharing agreements."""
