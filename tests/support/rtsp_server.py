"""A simulated IP camera: a live H.264 (High profile) RTSP stream served by GStreamer on 127.0.0.1.

Run with Debian's Python, which has PyGObject (the venv does not); `tests/support/rtsp_camera.py` starts it.
It imports nothing from the repository. Once the server listens it prints one line, `READY <url>`, and it
exits cleanly on SIGTERM or SIGINT.

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --width 1280 --height 720 --fps 25 --gop 50
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402  (require_version must come first)

ROLE = "camera-user"


def positive(text: str) -> int:
    """An argparse type: an integer above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=positive, required=True)
    parser.add_argument("--width", type=positive, default=1280)
    parser.add_argument("--height", type=positive, default=720)
    parser.add_argument("--fps", type=positive, default=25)
    parser.add_argument("--gop", type=positive, default=50, help="frames from one keyframe to the next")
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--slices", type=positive, default=1, help="slices per frame (IDRs too)")
    parser.add_argument("--pattern", default="ball", help="videotestsrc pattern (ball, smpte, ...)")
    parser.add_argument("--bitrate", type=positive, help="kbit/s; by default chosen from the frame size")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    if not args.path.startswith("/"):
        parser.error("--path must start with /")
    return args


def launch_line(args: argparse.Namespace) -> str:
    """The gst-launch description of the camera's media (the payloader must be named pay0)."""
    # Typical camera rates: about 2 Mbit/s for 720p, 4 Mbit/s for 1080p.
    bitrate = args.bitrate or (4000 if args.width * args.height > 1280 * 720 else 2000)
    # ultrafast turns CABAC and 8x8 transforms off (Constrained Baseline); real cameras send High profile,
    # so switch both back on and pin the profile in the caps. The option string is applied last by x264enc.
    options = "cabac=1:8x8dct=1"
    if args.slices > 1:
        options += f":slices={args.slices}"  # every frame, IDRs included, is cut into this many slices
    return (
        f"( videotestsrc is-live=true pattern={args.pattern} "
        f"! video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1 "
        "! timeoverlay "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.gop} bframes=0 "
        f"sliced-threads=false bitrate={bitrate} option-string={options} "
        "! video/x-h264,profile=high "
        # x264 already repeats SPS/PPS in-band before every IDR, as cameras do, so a client joining mid-stream
        # can decode; the SDP carries them too (sprop-parameter-sets). config-interval=-1 would add a second
        # copy before every IDR *slice*, and FFmpeg then splits a multi-slice IDR into one packet per slice.
        "! rtph264pay name=pay0 pt=96 config-interval=0 )"
    )


def add_basic_auth(server: GstRtspServer.RTSPServer, factory: GstRtspServer.RTSPMediaFactory,
                   user: str, password: str) -> None:
    """Require HTTP basic authentication: only this user may open (and so construct) the stream."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role(ROLE, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    permissions.add_permission_for_role(ROLE, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    factory.set_permissions(permissions)


def build_server(args: argparse.Namespace) -> GstRtspServer.RTSPServer:
    """An RTSP server on 127.0.0.1:port with one shared media factory at the path."""
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args))
    # Shared: every client gets the same pipeline and encoder, as with a real camera's single encoder.
    factory.set_shared(True)
    # Clients such as FFmpeg PLAY with `Range: npt=0.000-`, which the server turns into a flushing seek of
    # the shared pipeline: the encoder restarts, the new client gets an IDR at once and everyone else an early
    # one. A real camera makes a new viewer wait for the next scheduled keyframe. The server never seeks
    # media that publishes its clock (RFC 7273 ts-refclk/mediaclk lines in the SDP, which clients ignore).
    factory.set_publish_clock_mode(GstRtspServer.RTSPPublishClockMode.CLOCK_AND_OFFSET)
    if args.user is not None:
        add_basic_auth(server, factory, args.user, args.password)
    server.get_mount_points().add_factory(args.path, factory)
    return server


def main(argv: list[str]) -> int:
    """Serve until SIGTERM/SIGINT; 1 if the port cannot be bound."""
    args = parse_args(argv)
    Gst.init(None)
    try:
        # The server builds the pipeline only when the first client arrives; building it once now turns a
        # missing plugin (x264enc is in gstreamer1.0-plugins-ugly) into a start failure, not a silent 503.
        Gst.parse_launch(launch_line(args))
    except GLib.Error as exc:
        print(f"cannot build the camera pipeline: {exc.message}", file=sys.stderr)
        return 1
    server = build_server(args)
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # GLib's handler runs in the main loop, so quitting is safe (a Python handler would wait for the loop).
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)
    if server.attach(None) == 0:  # attach creates and binds the listening socket
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    print(f"READY rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
