"""Without the ``otel`` extra nothing of OpenTelemetry is imported, and asking for telemetry
says which extra to install. Run in a fresh interpreter, with OpenTelemetry blocked."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())

    import bbre_async
    from bbre_async import BBREClient, SessionPool
    from bbre_async.emulator import running_emulator
    import bbre_async.cli._demo

    async def main():
        async with running_emulator() as emu:
            async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
                async with SessionPool(client, max_size=2, ledger_path=None) as pool:
                    async def job(session, url):
                        return (await session.get(url)).status_code
                    outcomes = await pool.map(job, ["https://a.test/1", "https://a.test/2"]).collect()
                    print("statuses", sorted(o.result() for o in outcomes))

    asyncio.run(main())
    print("loaded", sorted(m for m in sys.modules if m.startswith("opentelemetry")))
    try:
        import bbre_async.telemetry
    except ImportError as error:
        print("telemetry:", error)
    """
)


def test_the_package_runs_without_opentelemetry_and_names_the_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "statuses [200, 200]" in lines
    assert "loaded []" in lines
    extra = "pip install 'bbre-async[otel]'"
    assert f"telemetry: bbre_async.telemetry needs OpenTelemetry: {extra}" in lines
