"""What a file is, from its first bytes: the container signatures of the video and image types evidence accepts.

The client's file name and Content-Type are never consulted: an HTML page or an executable named `clip.mp4` is
refused because its bytes are not an MP4. This checks the container's signature, not every frame; files are
only ever handed out as attachments with `nosniff`, so a polyglot that passes cannot run in a browser.
"""

from __future__ import annotations

SNIFF_BYTES = 4096  # enough for every signature below (MPEG-TS needs several 188-byte packets)
TS_PACKETS = 4  # sync bytes that must line up (or as many as a short file has)

# ISO base media (MP4 family) brands of video files; QuickTime's own brand is told apart.
MP4_BRANDS = frozenset({
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41", b"mp42", b"avc1",
    b"hvc1", b"hev1", b"av01", b"dash", b"M4V ", b"M4VH", b"M4VP", b"mmp4", b"mp71", b"3gp4", b"3gp5", b"3gp6",
    b"3gp7", b"3g2a", b"3g2b", b"3g2c", b"f4v ", b"XAVC", b"MSNV", b"NDAS", b"CAEP", b"MPPI",
})
QUICKTIME_BRANDS = frozenset({b"qt  "})
# Still images and audio in the same container: not footage.
NOT_VIDEO_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"M4A ", b"M4B ", b"M4P ",
                              b"crx "})


def _iso_bmff(head: bytes) -> str | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box = int.from_bytes(head[:4], "big")
    if box < 16 or box % 4:
        return None
    major, compatible = head[8:12], [head[i:i + 4] for i in range(16, min(box, len(head)) - 3, 4)]
    if major in NOT_VIDEO_BRANDS:
        return None
    brands = {major, *compatible}
    if major in QUICKTIME_BRANDS:
        return "video/quicktime"
    if brands & MP4_BRANDS:
        return "video/mp4"
    if brands & QUICKTIME_BRANDS:
        return "video/quicktime"
    return None


def _matroska(head: bytes) -> str | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    header = head[:64]
    # The EBML header's DocType element (id 0x4282) names the flavour.
    if b"\x42\x82\x84webm" in header:
        return "video/webm"
    if b"\x42\x82\x88matroska" in header:
        return "video/x-matroska"
    return None


def _transport_stream(head: bytes) -> str | None:
    for packet, skip in ((188, 0), (192, 4)):  # plain TS, and M2TS with its 4-byte timestamp per packet
        count = min(TS_PACKETS, (len(head) - skip) // packet)
        if count >= 2 and all(head[skip + i * packet] == 0x47 for i in range(count)):
            return "video/mp2t"
    return None


def sniff(head: bytes) -> str | None:
    """The media type the bytes start like, or None (unknown, or not a type evidence accepts)."""
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return _iso_bmff(head) or _matroska(head) or _transport_stream(head)
