"""Registry settings: small classes, each read from the environment with the `REGISTRY_` prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import LookoutSettings


class DatabaseSettings(LookoutSettings):
    """Where the registry keeps its tables: SQLite + SpatiaLite by default, PostGIS in production."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_DATABASE_")

    url: str = "sqlite:///var/registry.db"
    pool_size: int = 10
    echo: bool = False


class SecuritySettings(LookoutSettings):
    """Keys, token lifetimes and login protection."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_")

    signing_key_file: str = "var/registry-signing-key.pem"
    # Fernet keys (comma-separated, newest first) for contact data at rest; a second for blind indexes.
    data_keys: str = ""
    data_key_file: str = "var/registry-data-key"
    access_token_ttl_s: int = 900
    staff_session_max_s: int = 12 * 3600
    owner_session_max_s: int = 30 * 24 * 3600
    lockout_failures: int = 5
    lockout_window_s: int = 15 * 60
    owner_lockout_s: int = 15 * 60
    ip_failures_per_window: int = 30
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    totp_issuer: str = "Lookout"


class SearchSettings(LookoutSettings):
    """Bounds on what an investigator's search may ask for."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_SEARCH_")

    max_radius_m: float = 5000
    max_buffer_m: float = 1000
    max_polygon_km2: float = 50
    max_route_km: float = 50
    max_page_size: int = 200
    default_page_size: int = 50


class GeocoderSettings(LookoutSettings):
    """Turning addresses into points: off by default (the owner's pin is used)."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_GEOCODER_")

    kind: Literal["none", "nominatim"] = "none"
    url: str = "http://127.0.0.1:8080"
    timeout_s: float = 3.0
    user_agent: str = "lookout-registry"


class ImportSettings(LookoutSettings):
    """Limits on CSV imports of paper brochure forms."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_IMPORT_")

    max_bytes: int = 2 * 1024 * 1024
    max_rows: int = 5000


class RegistrySettings(LookoutSettings):
    """All registry settings together."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    geocoder: GeocoderSettings = Field(default_factory=GeocoderSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    public_url: str = "http://127.0.0.1:8000"
