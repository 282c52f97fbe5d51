"""H.264 passthrough helpers: NAL scanning, SPS/PPS from the SDP, and whole access units from demuxed packets.

Nothing here decodes or re-encodes. Bytes are only looked at on keyframes (and, for one packet at start, its
first few bytes), and only copied to merge the slices of one picture or to put SPS/PPS in front of an IDR.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

START = b"\x00\x00\x01"
LONG_START = b"\x00\x00\x00\x01"
NAL_SLICE, NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD = 1, 5, 6, 7, 8, 9
SCAN_BYTES = 4096  # SPS, PPS, SEI and the first slice header of a keyframe fit in this, as a rule


@dataclass(slots=True)
class AccessUnit:
    """One coded picture, Annex-B, ready for aiortc: `packet` is shared by every session (never copied)."""

    packet: av.Packet
    pts: int  # in the source's time base, filled in when the camera sent none
    time_base: Fraction
    keyframe: bool  # an IDR, with SPS and PPS in front of it
    size: int
    epoch: int = 0  # which RTSP connection it came from: a new one means a timestamp discontinuity


def nal_units(data: bytes, *, stop_at_slice: bool = True) -> list[tuple[int, int]]:
    """(nal_unit_type, offset of its start code) of each NAL in Annex-B data, up to the first slice by default."""
    found: list[tuple[int, int]] = []
    i = data.find(START)
    while i != -1 and i + 3 < len(data):
        offset = i - 1 if i > 0 and data[i - 1] == 0 else i
        kind = data[i + 3] & 0x1F
        found.append((kind, offset))
        if stop_at_slice and NAL_SLICE <= kind <= NAL_IDR:
            break
        i = data.find(START, i + 3)
    return found


def head_nal_types(packet: av.Packet | bytes) -> list[int]:
    """NAL types up to the first slice, reading only the first SCAN_BYTES unless the slice lies further in."""
    view = memoryview(packet)  # av.Packet exposes the buffer protocol
    head = bytes(view[:SCAN_BYTES])
    units = nal_units(head)
    if len(view) > SCAN_BYTES and not any(NAL_SLICE <= k <= NAL_IDR for k, _ in units):
        units = nal_units(bytes(view))
    return [k for k, _ in units]


def parameter_sets(extradata: bytes | None) -> bytes:
    """The SPS and PPS of a stream's extradata (Annex-B from an RTSP SDP, or avcC), as Annex-B; b"" if none."""
    if not extradata:
        return b""
    if extradata[0] == 1:
        return _avcc_parameter_sets(extradata)
    units = nal_units(extradata, stop_at_slice=False)
    ends = [offset for _, offset in units[1:]] + [len(extradata)]
    out = []
    for (kind, offset), end in zip(units, ends, strict=True):
        if kind in (NAL_SPS, NAL_PPS):
            start = extradata.index(START, offset) + 3
            out.append(LONG_START + extradata[start:end])
    return b"".join(out)


def _avcc_parameter_sets(extradata: bytes) -> bytes:
    """SPS and PPS out of an AVCDecoderConfigurationRecord (the MP4 form), as Annex-B."""
    out, pos = [], 5
    try:
        for count_mask in (0x1F, 0xFF):  # SPS count is 5 bits, PPS count a whole byte
            count = extradata[pos] & count_mask
            pos += 1
            for _ in range(count):
                size = int.from_bytes(extradata[pos:pos + 2], "big")
                unit = extradata[pos + 2:pos + 2 + size]
                if len(unit) != size:
                    return b""
                out.append(LONG_START + unit)
                pos += 2 + size
    except IndexError:
        return b""
    return b"".join(out)


def lacks_parameter_sets(types: list[int]) -> bool:
    """Whether a keyframe's NAL types (up to its first slice) miss the SPS or the PPS."""
    return NAL_SPS not in types or NAL_PPS not in types


def with_parameter_sets(data: bytes, types: list[int], sets: bytes) -> bytes:
    """`data` with `sets` (Annex-B SPS and PPS) put in front of its first NAL, after an access unit delimiter."""
    if types and types[0] == NAL_AUD:  # an access unit delimiter must stay first
        units = nal_units(data)
        if len(units) > 1:
            cut = units[1][1]
            return data[:cut] + sets + data[cut:]
    return sets + data


class Assembler:
    """Turns demuxed packets into access units: same-pts packets merged, a missing pts filled, SPS/PPS added.

    aiortc marks the end of every packet it is given as the end of a picture, so the slices of one picture
    (several packets with one pts) must be joined first. That needs to see the next packet: one frame of delay.
    """

    def __init__(self, time_base: Fraction, frame_ticks: int, sets: bytes = b"", epoch: int = 0) -> None:
        self.time_base = time_base
        self.frame_ticks = max(1, frame_ticks)
        self.sets = sets
        self.epoch = epoch
        self._parts: list[av.Packet] = []
        self._pts: int | None = None
        self._flagged = False

    def push(self, packet: av.Packet) -> AccessUnit | None:
        """Take one demuxed packet; return the access unit it completed, if any."""
        if not packet.size:
            return None
        pts = packet.pts if packet.pts is not None else packet.dts
        if self._parts and (pts == self._pts or (pts is not None and self._pts is None
                                                 and self._same_picture(packet))):
            self._pts = pts
            self._add(packet)
            return None
        done = self.flush(next_pts=pts)
        self._pts = pts
        self._add(packet)
        return done

    def _add(self, packet: av.Packet) -> None:
        self._parts.append(packet)
        self._flagged = self._flagged or packet.is_keyframe

    def _same_picture(self, packet: av.Packet) -> bool:
        """Whether a packet continues a first picture that came without a pts (seen once, at the start)."""
        if packet.is_keyframe != self._flagged:
            return False
        return head_nal_types(bytes(memoryview(packet)[:64]))[:1] != [NAL_AUD]

    def flush(self, next_pts: int | None = None) -> AccessUnit | None:
        """The access unit being assembled, if any (its pts taken from the next packet's if it had none)."""
        if not self._parts:
            return None
        parts, pts, flagged = self._parts, self._pts, self._flagged
        self._parts, self._pts, self._flagged = [], None, False
        if pts is None:
            if next_pts is None:
                return None  # no timing at all: nothing a receiver could place
            pts = next_pts - self.frame_ticks
        return self._unit(parts, pts, flagged)

    def _unit(self, parts: list[av.Packet], pts: int, flagged: bool) -> AccessUnit:
        packet = parts[0] if len(parts) == 1 else av.Packet(b"".join(bytes(p) for p in parts))
        keyframe = False
        if flagged:  # only keyframes are scanned: P-frames pass untouched
            types = head_nal_types(packet)
            keyframe = NAL_IDR in types
            if keyframe and self.sets and lacks_parameter_sets(types):  # the camera sends them only in the SDP
                packet = av.Packet(with_parameter_sets(bytes(packet), types, self.sets))
        return AccessUnit(packet=packet, pts=pts, time_base=self.time_base, keyframe=keyframe,
                          size=packet.size, epoch=self.epoch)


def frame_ticks(time_base: Fraction, rate: Fraction | None, default_fps: int = 25) -> int:
    """Ticks of `time_base` per frame at `rate` (the camera's frame rate, or `default_fps` if unknown)."""
    fps = rate if rate and 1 <= rate <= 240 else Fraction(default_fps)
    return max(1, round(1 / (fps * time_base)))
