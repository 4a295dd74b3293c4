"""Charges and refunds against an account's balance.

A charge is taken before the work starts and refused with ``402 INSUFFICIENT_BALANCE`` when the
balance is short; a failed or timed-out stateless task is refunded in full when it ends (the
vendor says failures "may" be charged; the emulator's choice is the simple, checkable one).
"""

from __future__ import annotations

from bbre_async.emulator._envelope import ApiError
from bbre_async.emulator._state import Account, to_usd


def charge(account: Account, micros: int) -> None:
    """Deduct ``micros`` or raise ``402 INSUFFICIENT_BALANCE`` (nothing deducted)."""
    if micros > account.balance_micros:
        account.counters.insufficient_balance += 1
        raise ApiError(
            402,
            "INSUFFICIENT_BALANCE",
            details={"required": to_usd(micros), "balance": to_usd(account.balance_micros)},
        )
    account.balance_micros -= micros
    account.charged_micros += micros


def refund(account: Account, micros: int) -> None:
    """Give back a charge taken earlier."""
    account.balance_micros += micros
    account.charged_micros -= micros
