"""`lookout-core panic` wakes a running agent through a local unix socket."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from edge_core import wake


def test_poke_sets_the_event() -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "wake.sock"
            event = asyncio.Event()
            transport = await wake.listen(path, event)
            assert transport is not None and path.stat().st_mode & 0o077 == 0
            assert await asyncio.to_thread(wake.poke, path)
            await asyncio.wait_for(event.wait(), 5)
            transport.close()

    asyncio.run(main())


def test_poke_without_an_agent_says_so(tmp_path: Path) -> None:
    assert wake.poke(tmp_path / "nobody.sock") is False
