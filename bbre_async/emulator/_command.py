"""``bbre-async emulator``: run the emulator from a shell until Ctrl-C or SIGTERM.

The first line on stdout is the base URL and nothing else, so scripts can read it (useful with
``--port 0``); everything else goes to stderr. The first stderr line names the BBRE keys it
accepts; the same server answers OrchestratorHQ's API under ``/api`` (keys from
``--orchestrator-key``), and the second stderr line shows its base URL and key. A port that
cannot be bound is one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
from typing import Any

import click

from bbre_async.emulator._allocator import settle_allocator
from bbre_async.emulator._server import Emulator
from bbre_async.emulator._settings import (
    CLOSE_FAILURES,
    EXPIRY_FORMS,
    AccountSpec,
    CloseFailure,
    EmulatorSettings,
    ExpiryForm,
    Faults,
    Latency,
)
from bbre_async.emulator.orchestrator._settings import OrchestratorSettings, OrgSpec

DEFAULT_ORCHESTRATOR_KEY = "orch_test_key"

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

#: ``--fault`` names (left) and the ``Faults`` field each sets.
FAULT_ALIASES = {
    "500": "service_error",
    "5xx": "service_error",
    "service_error": "service_error",
    "429": "rate_limit",
    "rate_limit": "rate_limit",
    "502": "bad_gateway",
    "bad_gateway": "bad_gateway",
    "drop": "drop",
    "reset": "drop",
    "lost": "lost_answer",
    "lost_answer": "lost_answer",
    "garbled": "garbled_answer",
    "garbled_answer": "garbled_answer",
    "create502": "create_bad_gateway",
    "create_bad_gateway": "create_bad_gateway",
    "lag": "listing_lag",
    "listing_lag": "listing_lag",
    "retry_after": "retry_after",
}


def parse_faults(
    specs: tuple[str, ...],
    endpoints: tuple[str, ...],
    failing_closes: CloseFailure | None = None,
) -> Faults:
    """``("500=0.03", "lost=0.01")`` as ``Faults``; raises ``click.BadParameter``."""
    fields: dict[str, Any] = {"failing_closes": failing_closes}
    for spec in specs:
        name, sep, value = spec.partition("=")
        field = FAULT_ALIASES.get(name.strip().lower())
        if not sep or field is None:
            raise click.BadParameter(
                f"{spec!r}: expected KIND=VALUE with KIND one of {', '.join(FAULT_ALIASES)}",
                param_hint="--fault",
            )
        try:
            fields[field] = float(value)
        except ValueError:
            raise click.BadParameter(
                f"{spec!r}: {value!r} is not a number", param_hint="--fault"
            ) from None
    if endpoints:
        fields["endpoints"] = endpoints
    try:
        return Faults(**fields)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None


def build_settings(
    *,
    api_keys: tuple[str, ...],
    suspended_keys: tuple[str, ...] = (),
    inactive_keys: tuple[str, ...] = (),
    balance: float = 100.0,
    time_scale: float = 1.0,
    faults: Faults | None = None,
    latency: float = 0.0,
    jitter: float = 0.0,
    sweep_interval: float = 1.0,
    seed: int | None = None,
    admin_token: str | None = None,
    orchestrator_keys: tuple[str, ...] = (),
    clock_offset: float = 0.0,
    expiry_form: ExpiryForm = "normal",
    session_retention: float = 3600.0,
) -> EmulatorSettings:
    """Settings from command-line values; accounts are named ``account1``, ``account2``…
    and OrchestratorHQ organisations ``org1``, ``org2``… (default key ``orch_test_key``)."""
    keys = [(k, "active") for k in api_keys or ("test-key",)]
    keys += [(k, "suspended") for k in suspended_keys]
    keys += [(k, "inactive") for k in inactive_keys]
    accounts = [
        AccountSpec(api_key=key, name=f"account{i}", status=status, balance=balance)
        for i, (key, status) in enumerate(keys, start=1)
    ]
    orgs = [
        OrgSpec(api_key=key, name=f"org{i}")
        for i, key in enumerate(orchestrator_keys or (DEFAULT_ORCHESTRATOR_KEY,), start=1)
    ]
    return EmulatorSettings(
        accounts=accounts,
        time_scale=time_scale,
        faults=faults or Faults(),
        latency=Latency(default=latency, jitter=jitter),
        sweep_interval=sweep_interval if sweep_interval > 0 else None,
        seed=seed,
        admin_token=admin_token,
        orchestrator=OrchestratorSettings(
            orgs=orgs, seed=seed, session_retention=session_retention
        ),
        clock_offset=clock_offset,
        expiry_form=expiry_form,
        session_retention=session_retention,
    )


async def serve(settings: EmulatorSettings, host: str, port: int) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the URL is out: a reader may signal
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    emulator = Emulator(settings)
    try:
        try:
            url = await emulator.start(host, port)
        except OSError as exc:
            raise click.ClickException(_cannot_listen(host, port, exc)) from None
        click.echo(url)
        click.echo(
            f"BBRE emulator on {url}; {_keys(settings)}; time scale "
            f"{settings.time_scale:g}; state at {url}/_emulator/state",
            err=True,
        )
        if settings.orchestrator is not None:
            orgs = settings.orchestrator.orgs
            more = f" (+{len(orgs) - 1} more)" if len(orgs) > 1 else ""
            click.echo(
                f"OrchestratorHQ API on {emulator.orchestrator_url}; key "
                f'{orgs[0].api_key}{more}; state under "orchestrator" at {url}/_emulator/state',
                err=True,
            )
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if emulator.running:
            await emulator.stop()
            click.echo("BBRE emulator stopped", err=True)


def _keys(settings: EmulatorSettings) -> str:
    """``API key test-key (account1)``: the emulator's keys are test values, shown so a user
    knows what to send; suspended and inactive ones say so."""
    shown = [
        a.api_key + (f" ({a.name})" if a.status == "active" else f" ({a.name}, {a.status})")
        for a in settings.accounts
    ]
    return ("API key " if len(shown) == 1 else "API keys ") + ", ".join(shown)


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is already in use (another emulator?); "
            "pick another --port, or --port 0 for a free one"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot listen on {where}: permission denied; use a port above 1023"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot listen on {where}: {reason}"


@click.command("emulator")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Anything but loopback exposes the emulator to the network.",
)
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to bind; 0 picks a free one (read it from the first stdout line).",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help="An API key to accept (repeatable). Default: test-key.",
)
@click.option(
    "--suspended-key",
    "suspended_keys",
    multiple=True,
    metavar="KEY",
    help="A key whose account is suspended (403 ACCOUNT_SUSPENDED).",
)
@click.option(
    "--inactive-key",
    "inactive_keys",
    multiple=True,
    metavar="KEY",
    help="A key whose account is inactive (403 ACCOUNT_INACTIVE).",
)
@click.option(
    "--balance",
    default=100.0,
    show_default=True,
    type=float,
    help="Opening balance of every account, in USD.",
)
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Compress durations: 100 makes a 300 s session live 3 s.",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="KIND=VALUE",
    help="A fault rate, e.g. 500=0.03, 429=0.01, 502=0.01, drop=0.01, lost=0.01, "
    "create502=0.2 (a proxy's 502 before a create reaches the server), garbled=0.01 (a 200 "
    "whose body is cut in half); "
    "or lag=SECONDS (listing lag), retry_after=SECONDS. Repeatable.",
)
@click.option(
    "--fault-endpoint",
    "fault_endpoints",
    multiple=True,
    metavar="NAME",
    help="Limit fault rates to this endpoint, e.g. session/create. Repeatable.",
)
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Server-side delay of every call, in real seconds.",
)
@click.option(
    "--jitter",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Extra random delay, uniform in [0, JITTER] real seconds.",
)
@click.option(
    "--sweep-interval",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds between expiry sweeps; 0 disables the sweep.",
)
@click.option(
    "--orchestrator-key",
    "orchestrator_keys",
    multiple=True,
    metavar="KEY",
    help="An OrchestratorHQ key (Bearer) the API under /api accepts (repeatable). "
    "Default: orch_test_key.",
)
@click.option(
    "--clock-offset",
    default=0.0,
    show_default=True,
    type=float,
    metavar="SECONDS",
    help="Put the server's clock SECONDS ahead (negative: behind) in every timestamp it "
    "sends and in its Date header; expiry itself still runs on the real clock.",
)
@click.option(
    "--expiry-form",
    default="normal",
    show_default=True,
    type=click.Choice(EXPIRY_FORMS),
    help="What expiresAt says in create and status answers (the session lives its granted "
    "life all the same).",
)
@click.option(
    "--failing-closes",
    default=None,
    type=click.Choice(CLOSE_FAILURES),
    help="Fail every /session/close (500, or no answer) until lifted with "
    'POST /_emulator/closes {"kind": null}; the sessions stay active.',
)
@click.option(
    "--session-retention",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Emulated seconds an ended session stays stored (listed, readable) before the "
    "server forgets it.",
)
@click.option("--seed", default=None, type=int, help="Seed of the fault and jitter RNG.")
@click.option(
    "--admin-token",
    default=None,
    envvar="BBRE_EMULATOR_ADMIN_TOKEN",
    help="Require this token (header x-emulator-token) on /_emulator/*.",
)
def emulator_command(
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    suspended_keys: tuple[str, ...],
    inactive_keys: tuple[str, ...],
    balance: float,
    time_scale: float,
    fault_specs: tuple[str, ...],
    fault_endpoints: tuple[str, ...],
    latency: float,
    jitter: float,
    sweep_interval: float,
    orchestrator_keys: tuple[str, ...],
    clock_offset: float,
    expiry_form: ExpiryForm,
    failing_closes: CloseFailure | None,
    session_retention: float,
    seed: int | None,
    admin_token: str | None,
) -> None:
    """Serve the BBRE API locally: sessions, cap, clamp, billing, history, and faults.

    The same server serves OrchestratorHQ's session API under /api (Bearer keys from
    --orchestrator-key), on the same clock and time scale.
    """
    try:
        settings = build_settings(
            api_keys=api_keys,
            suspended_keys=suspended_keys,
            inactive_keys=inactive_keys,
            balance=balance,
            time_scale=time_scale,
            faults=parse_faults(fault_specs, fault_endpoints, failing_closes),
            latency=latency,
            jitter=jitter,
            sweep_interval=sweep_interval,
            seed=seed,
            admin_token=admin_token,
            orchestrator_keys=orchestrator_keys,
            clock_offset=clock_offset,
            expiry_form=expiry_form,
            session_retention=session_retention,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if host not in LOOPBACK:
        click.echo(
            f"warning: binding {host}: the emulator has no TLS and its admin endpoints "
            "/_emulator/* need no API key; anyone who can reach this address can use it.",
            err=True,
        )
    settle_allocator()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, host, port))
