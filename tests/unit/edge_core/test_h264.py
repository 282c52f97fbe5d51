"""H.264 passthrough helpers: NAL scanning, SPS/PPS only when missing, whole access units, a pts for the first."""

from __future__ import annotations

from fractions import Fraction

import av

from edge_core.h264 import (
    SCAN_BYTES,
    Assembler,
    frame_ticks,
    head_nal_types,
    nal_units,
    parameter_sets,
    with_parameter_sets,
)

TB = Fraction(1, 90_000)
SPS = b"\x67\x64\x00\x1f\xac\xb4"
PPS = b"\x68\xee\x3c\xb0"
AUD = b"\x09\x10"
SEI = b"\x06\x05\x01\x02"
IDR = b"\x65\x88\x84" + b"\x11" * 40
P = b"\x41\x9a\x02" + b"\x22" * 20
L, S = b"\x00\x00\x00\x01", b"\x00\x00\x01"
SETS = L + SPS + L + PPS


def annexb(*units: bytes, long: bool = True) -> bytes:
    return b"".join((L if long else S) + u for u in units)


def packet(data: bytes, pts: int | None, *, key: bool = False) -> av.Packet:
    made = av.Packet(data)
    made.pts = pts
    made.dts = pts
    made.is_keyframe = key
    return made


def test_nal_units_with_short_and_long_start_codes() -> None:
    data = L + AUD + S + SPS + L + PPS + S + IDR + L + P
    assert [k for k, _ in nal_units(data)] == [9, 7, 8, 5]  # stops at the first slice
    assert [k for k, _ in nal_units(data, stop_at_slice=False)] == [9, 7, 8, 5, 1]
    assert [o for _, o in nal_units(data)][:2] == [0, len(L + AUD)]
    assert nal_units(b"") == [] and nal_units(b"\x00\x00\x01") == []


def test_head_scan_reads_past_a_long_sei_only_when_needed() -> None:
    big_sei = b"\x06" + b"\x55" * (SCAN_BYTES + 100)
    assert head_nal_types(annexb(SPS, PPS, big_sei, IDR)) == [7, 8, 6, 5]
    assert head_nal_types(av.Packet(annexb(AUD, P))) == [9, 1]


def test_parameter_sets_from_annexb_and_avcc_extradata() -> None:
    assert parameter_sets(annexb(SPS, PPS, SEI, long=False)) == SETS
    avcc = bytes([1, 0x64, 0, 0x1F, 0xFF, 0xE1]) + len(SPS).to_bytes(2, "big") + SPS + b"\x01" \
        + len(PPS).to_bytes(2, "big") + PPS
    assert parameter_sets(avcc) == SETS
    assert parameter_sets(avcc[:-2]) == b""  # truncated
    assert parameter_sets(None) == b"" and parameter_sets(b"") == b""


def test_parameter_sets_go_after_an_access_unit_delimiter() -> None:
    assert with_parameter_sets(annexb(AUD, IDR), [9, 5], SETS) == annexb(AUD) + SETS + annexb(IDR)
    assert with_parameter_sets(annexb(IDR), [5], SETS) == SETS + annexb(IDR)


def assemble(packets: list[av.Packet], sets: bytes = SETS) -> list:
    assembler = Assembler(TB, 3600, sets)
    units = [u for u in (assembler.push(p) for p in packets) if u is not None]
    last = assembler.flush()
    return units + ([last] if last else [])


def test_a_keyframe_without_sps_pps_gets_them_from_the_sdp() -> None:
    [unit] = assemble([packet(annexb(AUD, IDR), 0, key=True)])
    assert unit.keyframe and bytes(unit.packet) == annexb(AUD) + SETS + annexb(IDR)


def test_a_keyframe_with_sps_pps_and_p_frames_pass_untouched() -> None:
    key = packet(annexb(AUD, SPS, PPS, IDR), 0, key=True)
    p_frame = packet(annexb(AUD, P), 3600)
    units = assemble([key, p_frame])
    assert units[0].packet is key and units[1].packet is p_frame  # no copy at all
    assert [u.keyframe for u in units] == [True, False]


def test_a_flagged_packet_without_an_idr_is_not_a_keyframe() -> None:
    [unit] = assemble([packet(annexb(SEI, P), 0, key=True)])  # e.g. a recovery point: not a place to start
    assert not unit.keyframe and bytes(unit.packet) == annexb(SEI, P)


def test_slices_with_one_pts_become_one_access_unit() -> None:
    parts = [packet(annexb(AUD, SPS, PPS, IDR), 0, key=True), packet(annexb(SPS, PPS, IDR), 0, key=True),
             packet(annexb(IDR), 0, key=True), packet(annexb(AUD, P, P), 3600)]
    units = assemble(parts)
    assert [u.pts for u in units] == [0, 3600]
    assert bytes(units[0].packet) == b"".join(bytes(p) for p in parts[:3]) and units[0].keyframe
    assert units[0].size == units[0].packet.size


def test_a_unit_is_only_handed_on_when_the_next_one_starts() -> None:
    assembler = Assembler(TB, 3600, SETS)
    assert assembler.push(packet(annexb(AUD, SPS, PPS, IDR), 0, key=True)) is None
    assert assembler.push(packet(annexb(IDR), 0, key=True)) is None
    unit = assembler.push(packet(annexb(AUD, P), 3600))
    assert unit is not None and unit.pts == 0


def test_a_first_keyframe_without_pts_is_kept_and_given_one() -> None:
    # As FFmpeg's RTSP demuxer does before its first RTCP report: the IDR has no pts, the next frame has.
    units = assemble([packet(annexb(AUD, SPS, PPS, IDR), None, key=True), packet(annexb(AUD, P), 3600),
                      packet(annexb(AUD, P), 7200)])
    assert [(u.pts, u.keyframe) for u in units] == [(0, True), (3600, False), (7200, False)]


def test_a_first_slice_without_pts_joins_the_rest_of_its_picture() -> None:
    units = assemble([packet(annexb(AUD, SPS, PPS, IDR), None, key=True), packet(annexb(SPS, PPS, IDR), 0, key=True),
                      packet(annexb(AUD, P), 3600)])
    assert [(u.pts, u.keyframe) for u in units] == [(0, True), (3600, False)]
    assert units[0].packet.size == len(annexb(AUD, SPS, PPS, IDR)) + len(annexb(SPS, PPS, IDR))


def test_empty_packets_and_a_lone_unit_without_any_timing_are_dropped() -> None:
    assembler = Assembler(TB, 3600)
    assert assembler.push(av.Packet(b"")) is None
    assembler.push(packet(annexb(IDR), None, key=True))
    assert assembler.flush() is None


def test_the_epoch_and_time_base_travel_with_each_unit() -> None:
    assembler = Assembler(Fraction(1, 1000), 40, epoch=3)
    assembler.push(packet(annexb(AUD, P), 40))
    unit = assembler.flush()
    assert unit is not None and unit.epoch == 3 and unit.time_base == Fraction(1, 1000)


def test_frame_ticks() -> None:
    assert frame_ticks(TB, Fraction(25)) == 3600
    assert frame_ticks(TB, Fraction(30000, 1001)) == 3003
    assert frame_ticks(TB, None) == 3600 and frame_ticks(TB, Fraction(0)) == 3600
