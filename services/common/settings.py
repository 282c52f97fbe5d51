"""Settings base shared by every service: each service subclasses with its own env prefix."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class LookoutSettings(BaseSettings):
    """Base for all settings classes: environment first, unknown variables ignored."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)


class DatabaseSettingsBase(LookoutSettings):
    """Where a service keeps its tables; each service subclasses it with its prefix and default file."""

    url: str
    pool_size: int = 10
    echo: bool = False


class LoggingSettings(LookoutSettings):
    """How a service logs (JSON lines by default, for log shippers)."""

    model_config = SettingsConfigDict(env_prefix="LOOKOUT_LOG_")

    level: str = "INFO"
    json_lines: bool = True
