import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TriggerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_KIND_UNSPECIFIED: _ClassVar[TriggerKind]
    TRIGGER_KIND_BUTTON: _ClassVar[TriggerKind]
    TRIGGER_KIND_LAN_PAGE: _ClassVar[TriggerKind]
    TRIGGER_KIND_CLI: _ClassVar[TriggerKind]
    TRIGGER_KIND_APP: _ClassVar[TriggerKind]

class SharingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARING_MODE_UNSPECIFIED: _ClassVar[SharingMode]
    SHARING_MODE_REGISTRY_ONLY: _ClassVar[SharingMode]
    SHARING_MODE_ON_REQUEST: _ClassVar[SharingMode]
    SHARING_MODE_LIVE_ON_ALERT: _ClassVar[SharingMode]
    SHARING_MODE_LIVE_ON_CONSENT: _ClassVar[SharingMode]

class AlertOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_OUTCOME_UNSPECIFIED: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_RESOLVED: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_FALSE_ALARM: _ClassVar[AlertOutcome]
TRIGGER_KIND_UNSPECIFIED: TriggerKind
TRIGGER_KIND_BUTTON: TriggerKind
TRIGGER_KIND_LAN_PAGE: TriggerKind
TRIGGER_KIND_CLI: TriggerKind
TRIGGER_KIND_APP: TriggerKind
SHARING_MODE_UNSPECIFIED: SharingMode
SHARING_MODE_REGISTRY_ONLY: SharingMode
SHARING_MODE_ON_REQUEST: SharingMode
SHARING_MODE_LIVE_ON_ALERT: SharingMode
SHARING_MODE_LIVE_ON_CONSENT: SharingMode
ALERT_OUTCOME_UNSPECIFIED: AlertOutcome
ALERT_OUTCOME_RESOLVED: AlertOutcome
ALERT_OUTCOME_FALSE_ALARM: AlertOutcome

class PanicEvent(_message.Message):
    __slots__ = ("event_id", "device_id", "pressed_at", "trigger", "site_id", "camera_ids")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PRESSED_AT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    device_id: str
    pressed_at: _timestamp_pb2.Timestamp
    trigger: TriggerKind
    site_id: str
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., device_id: _Optional[str] = ..., pressed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trigger: _Optional[_Union[TriggerKind, str]] = ..., site_id: _Optional[str] = ..., camera_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CameraStatus(_message.Message):
    __slots__ = ("camera_id", "reachable", "codec", "width", "height", "last_frame_at", "error")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAST_FRAME_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    reachable: bool
    codec: str
    width: int
    height: int
    last_frame_at: _timestamp_pb2.Timestamp
    error: str
    def __init__(self, camera_id: _Optional[str] = ..., reachable: _Optional[bool] = ..., codec: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., last_frame_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class DeviceStatus(_message.Message):
    __slots__ = ("device_id", "online", "firmware", "cameras", "reported_at", "pending_events", "live_session_ids")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    PENDING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LIVE_SESSION_IDS_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    online: bool
    firmware: str
    cameras: _containers.RepeatedCompositeFieldContainer[CameraStatus]
    reported_at: _timestamp_pb2.Timestamp
    pending_events: int
    live_session_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device_id: _Optional[str] = ..., online: _Optional[bool] = ..., firmware: _Optional[str] = ..., cameras: _Optional[_Iterable[_Union[CameraStatus, _Mapping]]] = ..., reported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pending_events: _Optional[int] = ..., live_session_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class IceServer(_message.Message):
    __slots__ = ("urls", "username", "credential")
    URLS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    urls: _containers.RepeatedScalarFieldContainer[str]
    username: str
    credential: str
    def __init__(self, urls: _Optional[_Iterable[str]] = ..., username: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class StreamStart(_message.Message):
    __slots__ = ("session_id", "camera_id", "relay_id", "alert_id", "grant_id", "expires_at", "ice_servers", "agency_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    RELAY_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ICE_SERVERS_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    camera_id: str
    relay_id: str
    alert_id: str
    grant_id: str
    expires_at: _timestamp_pb2.Timestamp
    ice_servers: _containers.RepeatedCompositeFieldContainer[IceServer]
    agency_id: str
    def __init__(self, session_id: _Optional[str] = ..., camera_id: _Optional[str] = ..., relay_id: _Optional[str] = ..., alert_id: _Optional[str] = ..., grant_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ice_servers: _Optional[_Iterable[_Union[IceServer, _Mapping]]] = ..., agency_id: _Optional[str] = ...) -> None: ...

class StreamStop(_message.Message):
    __slots__ = ("session_id", "camera_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    camera_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., camera_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PolicyUpdate(_message.Message):
    __slots__ = ("camera_id", "sharing_mode", "grants", "version")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SHARING_MODE_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    sharing_mode: SharingMode
    grants: _containers.RepeatedCompositeFieldContainer[ConsentGrant]
    version: int
    def __init__(self, camera_id: _Optional[str] = ..., sharing_mode: _Optional[_Union[SharingMode, str]] = ..., grants: _Optional[_Iterable[_Union[ConsentGrant, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class DeviceCommand(_message.Message):
    __slots__ = ("command_id", "issued_at", "stream_start", "stream_stop", "policy_update")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    STREAM_START_FIELD_NUMBER: _ClassVar[int]
    STREAM_STOP_FIELD_NUMBER: _ClassVar[int]
    POLICY_UPDATE_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    issued_at: _timestamp_pb2.Timestamp
    stream_start: StreamStart
    stream_stop: StreamStop
    policy_update: PolicyUpdate
    def __init__(self, command_id: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stream_start: _Optional[_Union[StreamStart, _Mapping]] = ..., stream_stop: _Optional[_Union[StreamStop, _Mapping]] = ..., policy_update: _Optional[_Union[PolicyUpdate, _Mapping]] = ...) -> None: ...

class SessionDescription(_message.Message):
    __slots__ = ("session_id", "type", "sdp")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SDP_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    type: str
    sdp: str
    def __init__(self, session_id: _Optional[str] = ..., type: _Optional[str] = ..., sdp: _Optional[str] = ...) -> None: ...

class IceCandidate(_message.Message):
    __slots__ = ("session_id", "candidate", "sdp_mid", "sdp_mline_index")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    SDP_MID_FIELD_NUMBER: _ClassVar[int]
    SDP_MLINE_INDEX_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    candidate: str
    sdp_mid: str
    sdp_mline_index: int
    def __init__(self, session_id: _Optional[str] = ..., candidate: _Optional[str] = ..., sdp_mid: _Optional[str] = ..., sdp_mline_index: _Optional[int] = ...) -> None: ...

class AlertOpened(_message.Message):
    __slots__ = ("alert_id", "agency_id", "site_id", "device_id", "event_id", "lon", "lat", "camera_ids", "pressed_at", "opened_at", "trigger")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LON_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    PRESSED_AT_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    agency_id: str
    site_id: str
    device_id: str
    event_id: str
    lon: float
    lat: float
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    pressed_at: _timestamp_pb2.Timestamp
    opened_at: _timestamp_pb2.Timestamp
    trigger: TriggerKind
    def __init__(self, alert_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., site_id: _Optional[str] = ..., device_id: _Optional[str] = ..., event_id: _Optional[str] = ..., lon: _Optional[float] = ..., lat: _Optional[float] = ..., camera_ids: _Optional[_Iterable[str]] = ..., pressed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trigger: _Optional[_Union[TriggerKind, str]] = ...) -> None: ...

class AlertAcknowledged(_message.Message):
    __slots__ = ("alert_id", "agency_id", "by_account_id", "at")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    BY_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    agency_id: str
    by_account_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, alert_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., by_account_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AlertResolved(_message.Message):
    __slots__ = ("alert_id", "agency_id", "by_account_id", "at", "outcome")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    BY_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    agency_id: str
    by_account_id: str
    at: _timestamp_pb2.Timestamp
    outcome: AlertOutcome
    def __init__(self, alert_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., by_account_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[AlertOutcome, str]] = ...) -> None: ...

class AlertEvent(_message.Message):
    __slots__ = ("opened", "acknowledged", "resolved")
    OPENED_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    opened: AlertOpened
    acknowledged: AlertAcknowledged
    resolved: AlertResolved
    def __init__(self, opened: _Optional[_Union[AlertOpened, _Mapping]] = ..., acknowledged: _Optional[_Union[AlertAcknowledged, _Mapping]] = ..., resolved: _Optional[_Union[AlertResolved, _Mapping]] = ...) -> None: ...

class ConsentGrant(_message.Message):
    __slots__ = ("grant_id", "starts_at", "expires_at", "revoked", "agency_id")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    starts_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked: bool
    agency_id: str
    def __init__(self, grant_id: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked: _Optional[bool] = ..., agency_id: _Optional[str] = ...) -> None: ...

class CameraChanged(_message.Message):
    __slots__ = ("camera_id", "site_id", "agency_id", "device_id", "sharing_mode", "core_enabled", "lon", "lat", "label", "deleted", "grants", "version", "changed_at")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SHARING_MODE_FIELD_NUMBER: _ClassVar[int]
    CORE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    LON_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    site_id: str
    agency_id: str
    device_id: str
    sharing_mode: SharingMode
    core_enabled: bool
    lon: float
    lat: float
    label: str
    deleted: bool
    grants: _containers.RepeatedCompositeFieldContainer[ConsentGrant]
    version: int
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, camera_id: _Optional[str] = ..., site_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., device_id: _Optional[str] = ..., sharing_mode: _Optional[_Union[SharingMode, str]] = ..., core_enabled: _Optional[bool] = ..., lon: _Optional[float] = ..., lat: _Optional[float] = ..., label: _Optional[str] = ..., deleted: _Optional[bool] = ..., grants: _Optional[_Iterable[_Union[ConsentGrant, _Mapping]]] = ..., version: _Optional[int] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeviceChanged(_message.Message):
    __slots__ = ("device_id", "site_id", "agency_id", "lon", "lat", "camera_ids", "revoked", "version", "changed_at")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    LON_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    site_id: str
    agency_id: str
    lon: float
    lat: float
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    revoked: bool
    version: int
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, device_id: _Optional[str] = ..., site_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., lon: _Optional[float] = ..., lat: _Optional[float] = ..., camera_ids: _Optional[_Iterable[str]] = ..., revoked: _Optional[bool] = ..., version: _Optional[int] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SiteChanged(_message.Message):
    __slots__ = ("site_id", "owner_id", "agency_id", "lon", "lat", "deleted", "version", "changed_at")
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    LON_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    site_id: str
    owner_id: str
    agency_id: str
    lon: float
    lat: float
    deleted: bool
    version: int
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, site_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., lon: _Optional[float] = ..., lat: _Optional[float] = ..., deleted: _Optional[bool] = ..., version: _Optional[int] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
