"""Just enough H.264 (Annex-B) to find keyframes without decoding: NAL unit types from start codes."""

from __future__ import annotations

IDR = 5
# NAL types that may precede a picture's first slice in an access unit (SEI, SPS, PPS, delimiter, ...).
_PREAMBLE = frozenset({6, 7, 8, 9, 10, 11, 12, 13, 14, 15})


def is_keyframe(data: bytes, *, max_nals: int = 8) -> bool:
    """True when the access unit's first picture NAL is an IDR slice (scans a few NAL headers only)."""
    start = 0
    for _ in range(max_nals):
        at = data.find(b"\x00\x00\x01", start)
        if at < 0 or at + 3 >= len(data):
            return False
        nal_type = data[at + 3] & 0x1F
        if nal_type not in _PREAMBLE:
            return nal_type == IDR
        start = at + 3
    return False
