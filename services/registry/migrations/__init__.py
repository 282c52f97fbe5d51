"""Alembic migrations of the registry schema, the same on PostGIS and SpatiaLite."""
