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
    usd,
)


@click.command("balance")
@click.option("--json", "as_json", is_flag=True, help='Print {"balance": N, "currency": "USD"}.')
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
            "success_rate": stats.success_rate,
            "active_sessions": stats.active_sessions,
        },
    }


@click.command("account")
@click.option("--json", "as_json", is_flag=True, help="Print the account as one JSON object.")
@pass_state
@reports_errors("reading the account")
def account_command(state: CliState, as_json: bool) -> None:
    """Show the account and its usage statistics."""
    info = run(_info(state))
    if as_json:
        click.echo(json.dumps(account_json(info), ensure_ascii=False))
        return
    stats = info.statistics
    rate = "-" if stats.success_rate is None else f"{stats.success_rate:g}%"
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
