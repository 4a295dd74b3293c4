"""Security: the API key stays secret everywhere, TLS is verified, redirects do not carry
the key, the ledger is private, and the emulator stays on loopback unless told otherwise."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bbre_async import BBREClient, BBREError
from bbre_async.emulator import AccountSpec, EmulatorSettings, Faults, running_emulator
from bbre_async.pool import SessionPool

from .conftest import (
    BALANCE_OK,
    SECRET_KEY,
    RawServer,
    assert_secret_absent,
    full_log_text,
    http_answer,
    read_request,
    server_tls,
)

ACCOUNT = (AccountSpec(api_key=SECRET_KEY, balance=1e9),)
ROOT = Path(__file__).resolve().parents[2]


def everything_said_by(error: BaseException) -> str:
    """All an error shows: str, repr, args, message, pickled form, and its causes."""
    parts = [str(error), repr(error), repr(error.args)]
    if isinstance(error, BBREError):
        parts += [error.message, repr(error.details)]
        parts.append(repr(pickle.loads(pickle.dumps(error)).__dict__))
    if error.__cause__ is not None:
        parts.append(everything_said_by(error.__cause__))
    return "\n".join(parts)


async def test_the_key_never_reaches_logs_reprs_or_errors(
    tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A pool run with faults, every client call, and the errors of a rejected key."""
    errors: list[BaseException] = []
    shown: list[str] = []
    settings = EmulatorSettings(
        accounts=ACCOUNT,
        time_scale=100.0,
        sweep_interval=0.05,
        faults=Faults(service_error=0.05, lost_answer=0.03, rate_limit=0.03, retry_after=0.01),
        seed=5,
    )
    async with running_emulator(settings) as emu:
        async with BBREClient(api_key=SECRET_KEY, base_url=emu.base_url) as client:
            shown += [repr(client), str(client), repr(client.transport)]
            async with SessionPool(client, max_size=3, ledger_path=tmp_path / "l.db") as pool:
                shown += [repr(pool), repr(pool.backend), repr(pool.coordinator), repr(pool.owner)]

                async def work(n: int) -> None:
                    for i in range(8):
                        try:
                            async with pool.acquire(timeout=10) as lease:
                                shown.extend([repr(lease), repr(lease.handle), str(lease)])
                                await lease.get(f"https://target.test/{n}/{i}")
                        except BBREError as error:
                            errors.append(error)

                await asyncio.gather(*(work(n) for n in range(6)))
                shown += [repr(pool.stats()), repr(pool)]
                ledger_rows = await pool.coordinator.ledger.entries()
                shown += [repr(row) for row in ledger_rows]
            emu.clear_faults()
            session = await client.sessions.create()
            shown += [repr(session), repr(await session.status())]
            await session.get("https://target.test/x")
            shown += [repr(s) async for s in client.account.sessions()]
            shown.append(repr(await client.account.info()))
            shown += [repr(t) async for t in client.account.history()]
            await session.close()
            for call in (session.get("https://target.test/closed"), client.sessions.status("nope")):
                try:
                    await call
                except BBREError as error:
                    errors.append(error)
        # A key the server rejects: its errors must not quote it either.
        async with BBREClient(api_key=SECRET_KEY + "-revoked", base_url=emu.base_url) as bad:
            try:
                await bad.account.balance()
            except BBREError as error:
                errors.append(error)
    assert any(type(e).__name__ == "AuthenticationError" for e in errors)
    assert any(type(e).__name__ == "SessionClosedError" for e in errors)
    for text in shown:
        assert_secret_absent(text, "a repr")
    for failure in errors:
        assert_secret_absent(everything_said_by(failure), f"an error ({type(failure).__name__})")
    logs = full_log_text(debug_logs)
    assert "POST /session/request" in logs  # DEBUG lines were captured
    assert_secret_absent(logs, "the DEBUG log")


async def test_a_server_that_echoes_the_key_back_has_it_redacted(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """Error messages and body snippets quote the server; the key is cut out of both."""
    message = f"API key {SECRET_KEY} is not valid for this endpoint".encode()
    answers = [
        http_answer(
            403,
            b'{"success": false, "error": {"code": "INVALID_API_KEY", "message": "'
            + message
            + b'"}}',
        ),
        http_answer(502, b"<html>upstream rejected x-api-key: " + SECRET_KEY.encode() + b"</html>"),
        http_answer(200, b"not json, key=" + SECRET_KEY.encode()),
    ]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while answers:
            await read_request(reader)
            writer.write(answers.pop(0))
            await writer.drain()

    errors: list[BBREError] = []
    async with RawServer(handler) as server:
        async with BBREClient(
            api_key=SECRET_KEY, base_url=server.url, max_retries=0, timeout=2
        ) as client:
            for _ in range(3):
                try:
                    await client.account.balance()
                except BBREError as error:
                    errors.append(error)
    assert [type(e).__name__ for e in errors] == [
        "AuthenticationError",
        "GatewayError",  # a 502 HTML page: a ServiceError and an InvalidResponseError
        "InvalidResponseError",
    ]
    assert "***" in errors[0].message and "***" in errors[1].details["body_start"]
    for failure in errors:
        assert_secret_absent(everything_said_by(failure), "an error quoting the server")
    assert_secret_absent(full_log_text(debug_logs), "the DEBUG log")


async def test_the_ledger_file_is_private_and_holds_no_key(tmp_path: Path) -> None:
    folder = tmp_path / "ledgers"
    path = folder / "ledger.sqlite3"
    async with running_emulator(EmulatorSettings(accounts=ACCOUNT)) as emu:
        async with BBREClient(api_key=SECRET_KEY, base_url=emu.base_url) as client:
            async with SessionPool(
                client, max_size=2, ledger_path=path, shutdown_timeout=1.0
            ) as pool:
                leases = [await pool.acquire() for _ in range(2)]
                for lease in leases:
                    await lease.get("https://target.test/")
                # Checked while sessions are recorded (and WAL files exist).
                files = sorted(p for p in folder.iterdir() if p.name.startswith("ledger"))
                assert path in files
                for file in files:
                    mode = stat.S_IMODE(file.stat().st_mode)
                    assert mode & 0o077 == 0, f"{file.name} is {oct(mode)}"
                    assert_secret_absent(file.read_bytes(), file.name)
                for lease in leases:
                    await lease.release()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for file in folder.iterdir():
        assert_secret_absent(file.read_bytes(), file.name)
    # The default location is named by a fingerprint, never by the key.
    from bbre_async.coordination._sqlite_ledger import default_ledger_path

    assert_secret_absent(str(default_ledger_path(client.key_fingerprint, emu.base_url)), "a path")


@pytest.mark.redis
async def test_nothing_secret_is_written_to_redis(redis_url: str) -> None:
    import redis.asyncio as redis_asyncio

    from bbre_async.coordination import RedisCoordinator

    async with running_emulator(EmulatorSettings(accounts=ACCOUNT)) as emu:
        async with BBREClient(api_key=SECRET_KEY, base_url=emu.base_url) as client:
            coordinator = RedisCoordinator.for_client(redis_url, client)
            async with SessionPool(client, max_size=3, coordinator=coordinator) as pool:
                leases = [await pool.acquire() for _ in range(3)]
                ids = [lease.id for lease in leases]
                for lease in leases:
                    await lease.get("https://target.test/")
                dump = await dump_redis(redis_asyncio.from_url(redis_url))
                for lease in leases:
                    await lease.release()
            dump_after = await dump_redis(redis_asyncio.from_url(redis_url))
    # The dump is real: the ledger rows of the run's sessions are in it.
    assert any(sid.encode() in dump for sid in ids), "the run's sessions are not in Redis"
    assert_secret_absent(dump, "Redis (during the run)")
    assert_secret_absent(dump_after, "Redis (after the run)")
    assert_secret_absent(dump, "Redis", secret=SECRET_KEY[-12:])  # not even a tail of it


async def dump_redis(conn: object) -> bytes:
    """Every key and every value, whatever its type, as bytes."""
    r = conn  # redis.asyncio.Redis
    out: list[bytes] = []
    try:
        async for key in r.scan_iter(count=1000):  # type: ignore[attr-defined]
            kind = (await r.type(key)).decode()  # type: ignore[attr-defined]
            out.append(key)
            if kind == "string":
                out.append(await r.get(key) or b"")  # type: ignore[attr-defined]
            elif kind == "hash":
                for k, v in (await r.hgetall(key)).items():  # type: ignore[attr-defined]
                    out += [k, v]
            elif kind == "list":
                out += await r.lrange(key, 0, -1)  # type: ignore[attr-defined]
            elif kind == "set":
                out += list(await r.smembers(key))  # type: ignore[attr-defined]
            elif kind == "zset":
                out += [m for m, _ in await r.zrange(key, 0, -1, withscores=True)]  # type: ignore[attr-defined]
            elif kind == "stream":
                out.append(repr(await r.xrange(key)).encode())  # type: ignore[attr-defined]
    finally:
        await r.aclose()  # type: ignore[attr-defined]
    return b"\n".join(out)


async def test_tls_is_verified_by_default(self_signed: tuple[Path, Path]) -> None:
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            seen.append(head)
            writer.write(BALANCE_OK)
            await writer.drain()

    async with RawServer(answer, ssl_context=server_tls(self_signed)) as server:
        async with BBREClient(api_key=SECRET_KEY, base_url=server.url, timeout=2) as client:
            with pytest.raises(BBREError, match="certificate"):
                await client.account.balance()
        assert seen == []  # no request (so no key) went over the unverified connection
        async with BBREClient(
            api_key=SECRET_KEY, base_url=server.url, timeout=2, verify_ssl=False
        ) as client:
            assert await client.account.balance() == 12.5
        assert len(seen) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_host_never_carries_the_key(status: int) -> None:
    other_saw: list[bytes] = []

    async def other(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, body = await read_request(reader)
        other_saw.append(head + body)
        writer.write(BALANCE_OK)
        await writer.drain()

    async with RawServer(other) as second:
        location = f"http://localhost:{second.port}/account/balance"

        async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await read_request(reader)
                writer.write(http_answer(status, b"", headers={"Location": location}))
                await writer.drain()

        async with RawServer(redirect) as first:
            async with BBREClient(api_key=SECRET_KEY, base_url=first.url, timeout=2) as client:
                with pytest.raises(BBREError, match="redirect") as caught:
                    await client.account.balance()
                with pytest.raises(BBREError, match="redirect"):
                    await client.sessions.create()
    assert caught.value.status == status
    assert first.connections >= 1
    assert other_saw == [], "the redirect was followed"
    assert_secret_absent(everything_said_by(caught.value), "the redirect error")


def test_the_emulator_binds_to_loopback_by_default() -> None:
    import inspect

    from bbre_async.emulator import Emulator, running_emulator

    assert inspect.signature(Emulator.start).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(running_emulator).parameters["host"].default == "127.0.0.1"


async def test_a_running_emulator_listens_on_loopback_only() -> None:
    async with running_emulator() as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        sockets = [
            site._server.sockets  # type: ignore[union-attr]
            for site in emu._runner.sites  # type: ignore[union-attr]
        ]
        hosts = {sock.getsockname()[0] for group in sockets for sock in group}
        assert hosts == {"127.0.0.1"}


def run_emulator_command(*args: str) -> tuple[str, str]:
    """Start ``bbre-async emulator``, read its URL, stop it at once; (url line, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bbre_async", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return url, err.decode()


def test_the_emulator_warns_when_bound_beyond_loopback() -> None:
    url, err = run_emulator_command("--host", "0.0.0.0")
    assert url.startswith("http://0.0.0.0:"), (url, err)
    assert "warning" in err.lower() and "0.0.0.0" in err, err
    url, err = run_emulator_command()
    assert url.startswith("http://127.0.0.1:"), (url, err)
    assert "warning" not in err.lower(), err


async def test_a_key_echoed_in_error_details_is_redacted_too() -> None:
    body = (
        b'{"success": false, "error": {"code": "INVALID_API_KEY", "message": "bad key", '
        b'"details": {"provided": "' + SECRET_KEY.encode() + b'"}}}'
    )

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(http_answer(403, body))
        await writer.drain()

    async with RawServer(handler) as server:
        async with BBREClient(api_key=SECRET_KEY, base_url=server.url, timeout=2) as client:
            with pytest.raises(BBREError) as caught:
                await client.account.balance()
    assert_secret_absent(everything_said_by(caught.value), "error.details")
