"""Registry settings: small classes, each read from the environment with the `REGISTRY_` prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import DatabaseSettingsBase, LookoutSettings


class DatabaseSettings(DatabaseSettingsBase):
    """Where the registry keeps its tables: SQLite + SpatiaLite by default, PostGIS in production."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_DATABASE_")

    url: str = "sqlite:///var/registry.db"


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


class BrokerSettings(LookoutSettings):
    """The broker CORE devices connect to (told to them at enrolment) and where their accounts live."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_BROKER_")

    host: str = "127.0.0.1"
    port: int = 8883
    tls: bool = True
    accounts: Literal["none", "mosquitto"] = "none"
    # Mosquitto's dynamic-security admin, reached over the registry's own connection (REGISTRY_MQTT_*).
    admin_username: str = "admin"
    admin_password: str = ""


class DeviceSettings(LookoutSettings):
    """Enrolment codes of CORE devices and the limit on wrong codes."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_ENROLMENT_")

    code_ttl_s: int = 24 * 3600
    failures_per_window: int = 10
    window_s: int = 15 * 60


class MqttSettings(LookoutSettings):
    """The registry's own MQTT connection, used by the outbox relay (off when no host is set)."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_MQTT_")

    host: str | None = None
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    batch_size: int = 100
    poll_interval_s: float = 0.5
    max_backoff_s: float = 30.0


class EvidenceSettings(LookoutSettings):
    """Where evidence files go, what is accepted, and how long links and files live."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_EVIDENCE_")

    storage: Literal["local", "s3"] = "local"
    folder: str = "var/evidence"  # storage=local: never served directly, only through signed links
    s3_endpoint_url: str | None = None  # any S3-compatible store; empty means AWS
    s3_bucket: str = "lookout-evidence"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_prefix: str = "evidence/"
    max_upload_bytes: int = 4 * 1024**3
    chunk_bytes: int = 1024 * 1024  # read and hashed this much at a time: memory does not grow with file size
    # Checked by sniffing the first bytes, never by the file name or the client's Content-Type.
    allowed_types: list[str] = Field(default_factory=lambda: [
        "video/mp4", "video/quicktime", "video/x-matroska", "video/webm", "video/x-msvideo", "video/mp2t",
        "image/jpeg", "image/png"])
    link_ttl_s: int = 300  # signed download links
    link_key: str = ""  # HMAC key of download links; empty: derived from the data key
    retention_days: int = 365  # per-agency default (agency.evidence_retention_days overrides)
    upload_idle_s: int = 24 * 3600  # an unfinished upload left this long is removed
    sweep_interval_s: float = 300.0  # how often expiry and retention run inside the service


class RequestSettings(LookoutSettings):
    """Footage requests: limits on what an investigator may ask for."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_REQUESTS_")

    max_cameras: int = 100
    max_window_h: float = 72.0
    max_due_days: int = 90
    default_due_days: int = 14


class ConsentSettings(LookoutSettings):
    """Owners' consent grants of live video: how long one may last."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_CONSENT_")

    max_hours: float = 24.0


class MailSettings(LookoutSettings):
    """How owners are notified: SMTP through the notification outbox (or off)."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_MAIL_")

    backend: Literal["smtp", "log", "none"] = "log"  # log: write the message to the log (the demo)
    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    timeout_s: float = 10.0
    from_address: str = "lookout@localhost"
    poll_interval_s: float = 2.0
    batch_size: int = 50
    max_attempts: int = 20
    first_retry_s: float = 30.0  # the first retry after a failure waits this long, then the wait doubles
    max_backoff_s: float = 3600.0


class RegistrySettings(LookoutSettings):
    """All registry settings together."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    geocoder: GeocoderSettings = Field(default_factory=GeocoderSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    devices: DeviceSettings = Field(default_factory=DeviceSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    requests: RequestSettings = Field(default_factory=RequestSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    consent: ConsentSettings = Field(default_factory=ConsentSettings)
    public_url: str = "http://127.0.0.1:8000"
