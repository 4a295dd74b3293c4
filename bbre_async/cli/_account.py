"""``bbre-async balance`` and ``bbre-async account``: free, read-only calls about the account."""

from __future__ import annotations

import json

import click

from bbre_async._models import AccountInfo
from bbre_async.cli._common import (
    CliState,
    iso,
    new_table,
    out_console,
    pass_state,
    print_table,
    reports_errors,
    run,
    short_time,
    timeout_option,
    usd,
)


@click.command("balance")
@click.option("--json", "as_json", is_flag=True, help='Print {"balance": N, "currency": "USD"}.')
@timeout_option
@pass_state
@reports_errors("reading the balance")
def balance_command(state: CliState, as_json: bool) -> None:
    """Show the account balance in USD."""
    amount = run(_balance(state))
    if as_json:
        click.echo(json.dumps({"balance": amount, "currency": "USD"}))
    else:
        out_console().print(f"Balance: {usd(amount)} USD")


async def _balance(state: CliState) -> float:
    async with state.client() as client:
        return await client.account.balance()


#: Shown for a rate with nothing to measure (no requests yet): not a 0 % success rate.
NO_RATE = "\u2013"  # an en dash


def success_rate(info: AccountInfo) -> float | None:
    """The account's success rate in percent; None before its first request, whatever the
    server says (a rate over zero requests is not 0 %)."""
    stats = info.statistics
    return None if stats.total_requests == 0 else stats.success_rate


def account_json(info: AccountInfo) -> dict[str, object]:
    stats = info.statistics
    return {
        "username": info.username,
        "email": info.email,
        "status": info.status,
        "balance": info.balance,
        "created_at": iso(info.created_at) or None,
        "statistics": {
            "total_requests": stats.total_requests,
            "today_requests": stats.today_requests,
            "completed_requests": stats.completed_requests,
            "failed_requests": stats.failed_requests,
            "success_rate": success_rate(info),
            "active_sessions": stats.active_sessions,
        },
    }


@click.command("account")
@click.option("--json", "as_json", is_flag=True, help="Print the account as one JSON object.")
@timeout_option
@pass_state
@reports_errors("reading the account")
def account_command(state: CliState, as_json: bool) -> None:
    """Show the account and its usage statistics."""
    info = run(_info(state))
    if as_json:
        click.echo(json.dumps(account_json(info), ensure_ascii=False))
        return
    stats = info.statistics
    rate_value = success_rate(info)
    rate = NO_RATE if rate_value is None else f"{rate_value:g}%"
    table = new_table("field", "value", title="Account")
    for field, value in (
        ("username", info.username or "-"),
        ("email", info.email or "-"),
        ("status", info.status),
        ("balance", f"{usd(info.balance)} USD"),
        ("created", short_time(info.created_at)),
        ("requests (total)", str(stats.total_requests)),
        ("requests (today)", str(stats.today_requests)),
        ("completed", str(stats.completed_requests)),
        ("failed", str(stats.failed_requests)),
        ("success rate", rate),
        ("active sessions", str(stats.active_sessions)),
    ):
        table.add_row(field, value)
    print_table(out_console(), table)


async def _info(state: CliState) -> AccountInfo:
    async with state.client() as client:
        return await client.account.info()
