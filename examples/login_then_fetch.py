"""Log in through a form, then fetch pages as that user: one remote session across the steps.

    .venv/bin/python examples/login_then_fetch.py [--users 3]

A remote session is one browser: its cookie jar persists from request to request, so a login
cookie set by the POST rides along with every later GET on the same session. The workflow is
shown twice: on a session created by hand, and on a lease held from a pool across all steps.
"""

from __future__ import annotations

import argparse
import asyncio
import re

from _support import api_target, count_active

from bbre_async import BBREClient, PooledSession, Session, SessionPool
from bbre_async.emulator import TargetRule

SITE = "https://quotes.toscrape.com"  # a public practice site with a CSRF-protected login

# The embedded emulator has no internet: these rules make it answer like the site's login.
# The newest matching rule wins, so the catch-all comes first.
EMULATED_SITE = (
    TargetRule(pattern=f"{SITE}/*", method="GET", body='<a href="/logout">Logout</a>'),
    TargetRule(
        pattern=f"{SITE}/login",
        method="GET",
        body='<form method="post"><input type="hidden" name="csrf_token" value="emu-csrf">',
        set_cookies={"session": "anonymous"},
    ),
    TargetRule(
        pattern=f"{SITE}/login",
        method="POST",
        redirect_to="/",
        set_cookies={"session": "logged-in"},
    ),
)


async def log_in_and_browse(session: Session | PooledSession, user: str, pages: int) -> str:
    """The workflow, on a session created by hand or on a pooled lease (same methods)."""
    form = await session.get(f"{SITE}/login")
    fields = {"username": user, "password": "secret"}
    if token := re.search(r'name="csrf_token" value="([^"]+)"', form.body):
        fields["csrf_token"] = token[1]  # the site ties this token to the session's cookie
    # data= sends a form (application/x-www-form-urlencoded), as a browser's submit does.
    await session.post(f"{SITE}/login", data=fields)
    # No cookie is passed by hand: the remote browser sends the login cookie it was given.
    seen = [await session.get(f"{SITE}/page/{n}/") for n in range(1, pages + 1)]
    logged_in = all("Logout" in page.body for page in seen)
    cookie = session.cookies.get("session", "")[:20]
    return f"{user}: {len(seen)} pages, logged in: {logged_in}, session cookie {cookie!r}"


async def main(args: argparse.Namespace) -> None:
    async with api_target(targets=EMULATED_SITE) as target:
        async with BBREClient(api_key=target.api_key, base_url=target.base_url) as client:
            # 1. One session created by hand; `async with` closes it even if a step fails.
            async with await client.sessions.create(
                mode="passive", sensibility="medium", lifetime=120
            ) as session:
                print("single session:", await log_in_and_browse(session, "alice", args.pages))

            # 2. Pooled: each task holds ONE lease for its whole workflow. Releasing between
            # steps could hand the next step another session, one that never logged in.
            async with SessionPool(client, max_size=min(args.users, 10)) as pool:

                async def one_user(user: str) -> str:
                    # min_ttl: start only on a session with enough life left for every step.
                    async with pool.acquire(min_ttl=30) as lease:
                        try:
                            return await log_in_and_browse(lease, user, args.pages)
                        finally:
                            # Retire the session: its jar holds this user's login, which
                            # must never be handed to the next task.
                            await lease.close()

                users = [f"user{n}" for n in range(args.users)]
                for line in await asyncio.gather(*(one_user(u) for u in users)):
                    print("pooled:", line)
                print(f"pool: created {pool.stats().created}, retired {pool.stats().retired}")
            print(f"after close: {await count_active(client)} left active")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3, help="pooled workflows to run")
    parser.add_argument("--pages", type=int, default=2, help="pages to fetch after login")
    asyncio.run(main(parser.parse_args()))
