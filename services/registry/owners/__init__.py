"""Owners, their sites and cameras, CSV import, the access feed and deleting everything."""
