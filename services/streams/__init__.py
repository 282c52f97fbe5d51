"""Live relay: WebRTC stream sessions (built in the live-video issue)."""
