"""Close remote sessions left behind by pool processes that died: a script for cron.

    .venv/bin/python examples/orphan_cleanup_cron.py [--dry-run] [--foreign]

A process killed with SIGKILL (or a host losing power) cannot close its sessions, and each one
holds one of the account's 10 slots for up to 300 s. Every pool writes its creates to a ledger
on disk before sending them; this script finds the ledger entries whose owner is gone (dead
process, or no heartbeat for --stale-after seconds) and closes their sessions. Pools also do
this when they start; a cron job covers the hosts where nothing starts again soon, e.g.:

    */5 * * * *  BBRE_BASE_URL=... BBRE_API_KEY=... python orphan_cleanup_cron.py

Against its own emulator the script first stages a crash, so there is something to clean up:
a child process leases 3 sessions from a pool and is SIGKILLed, and 2 more sessions are made
outside any pool (what another program on the same key would leave).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import sys
from pathlib import Path

from _support import Target, api_target, count_active

from bbre_async import BBREClient, SessionPool
from bbre_async.coordination import OwnerInfo, SqliteLedger, default_ledger_path
from bbre_async.pool import ReapPlan, execute_reap, plan_reap


def lease_and_die(base_url: str, api_key: str, count: int) -> None:
    """In a child process: hold ``count`` pooled sessions, then die with no cleanup at all."""

    async def run() -> None:
        async with BBREClient(api_key=api_key, base_url=base_url) as client:
            pool = SessionPool(client, max_size=count)
            await pool.open()
            for _ in range(count):
                await pool.acquire()
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would

    asyncio.run(run())


async def stage_a_crash(target: Target, client: BBREClient) -> None:
    child = multiprocessing.get_context("spawn").Process(
        target=lease_and_die, args=(target.base_url, target.api_key, 3)
    )
    child.start()
    await asyncio.to_thread(child.join)
    for _ in range(2):
        await client.sessions.create()  # in no ledger: "foreign" to this host
    print(f"staged: a pool process died holding 3 sessions; {await count_active(client)} active")


async def reap(client: BBREClient, ledger_path: Path, args: argparse.Namespace) -> bool:
    backend = client.session_backend()
    me = OwnerInfo.current("orphan-cron")
    ledger = await SqliteLedger.open(ledger_path)
    try:
        # Plan with the foreign sessions included so they are reported, then leave them out
        # of the targets unless --foreign: a session in no ledger on this host may be a live
        # program's (another host, or a pool sharing the key through Redis).
        plan = await plan_reap(
            backend, ledger, me=me, stale_after=args.stale_after, include_foreign=True
        )
        if not args.foreign:
            foreign_ids = {row.id for row in plan.foreign}
            targets = {sid: why for sid, why in plan.targets.items() if sid not in foreign_ids}
            plan = ReapPlan(orphans=plan.orphans, targets=targets, foreign=plan.foreign)
        for session_id, why in plan.targets.items():
            print(f"to close: {session_id} ({why})")
        if plan.foreign and not args.foreign:
            print(f"left alone: {len(plan.foreign)} foreign session(s); --foreign closes them")
        if args.dry_run:
            print(f"dry run: would close {len(plan.targets)}; nothing changed")
            return True
        # Claims each ledger entry first, so two cron hosts never act on the same one.
        report = await execute_reap(backend, ledger, plan, me=me, stale_after=args.stale_after)
    finally:
        await ledger.aclose()
    print(
        f"closed {report.closed} (foreign {report.foreign_closed}), already gone "
        f"{report.already_gone}, failed {len(report.failed)}; ledger entries settled "
        f"{report.orphans}"
    )
    return not report.failed


async def main(args: argparse.Namespace) -> int:
    async with api_target() as target:
        async with BBREClient(api_key=target.api_key, base_url=target.base_url) as client:
            if target.emulator is not None:
                await stage_a_crash(target, client)
            # The ledger every pool on this API key and base URL writes by default.
            path = args.ledger or default_ledger_path(client.key_fingerprint, client.base_url)
            ok = await reap(client, path, args)
            print(f"{await count_active(client)} left active on the account")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="show the plan, close nothing")
    parser.add_argument(
        "--foreign",
        action="store_true",
        help="also close active sessions that no ledger on this host knows (use with care)",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=30.0,
        help="seconds without a heartbeat after which a ledger owner counts as gone",
    )
    parser.add_argument("--ledger", type=Path, default=None, help="ledger file (default: shared)")
    sys.exit(asyncio.run(main(parser.parse_args())))
