"""Authentication, the envelope, and malformed calls."""

from __future__ import annotations

import pytest

from bbre_async.emulator import Emulator
from tests.emulator._helpers import SERVICE, Api

PATHS = [
    ("/session/create", "POST"),
    ("/session/request", "POST"),
    ("/session/status", "POST"),
    ("/session/close", "POST"),
    ("/account/sessions", "POST"),
    ("/account/history", "POST"),
    ("/account/balance", "GET"),
    ("/account/info", "POST"),
    ("/request/create", "POST"),
    ("/request/result", "POST"),
    ("/request/execute", "POST"),
    ("/request/sync", "POST"),
]


@pytest.mark.parametrize(("path", "method"), PATHS)
async def test_every_endpoint_requires_a_key(api: Api, path: str, method: str) -> None:
    await api.as_key(None).err(path, {}, 401, "API_KEY_REQUIRED", method=method)
    await api.as_key("wrong").err(path, {}, 403, "INVALID_API_KEY", method=method)
    await api.as_key("suspended-key").err(path, {}, 403, "ACCOUNT_SUSPENDED", method=method)
    await api.as_key("inactive-key").err(path, {}, 403, "ACCOUNT_INACTIVE", method=method)


async def test_the_documented_auth_messages(api: Api) -> None:
    error = await api.as_key(None).err("/account/sessions", {}, 401, "API_KEY_REQUIRED")
    assert error == {
        "code": "API_KEY_REQUIRED",
        "message": "API key is required. Please provide your API key in the x-api-key or "
        "apikey header.",
    }


async def test_both_key_headers_work(api: Api) -> None:
    bare = api.as_key(None)
    for header in ("x-api-key", "apikey"):
        payload = await bare.ok("/account/balance", method="GET", headers={header: "test-key"})
        assert payload == {"success": True, "service": SERVICE, "balance": 100.0}


async def test_suspension_at_runtime(api: Api, emu: Emulator) -> None:
    emu.update_account("default", status="suspended")
    await api.err("/account/balance", None, 403, "ACCOUNT_SUSPENDED", method="GET")
    emu.update_account("default", status="active")
    await api.ok("/account/balance", method="GET")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"42"])
async def test_non_object_bodies_are_invalid_requests(api: Api, raw: bytes) -> None:
    await api.err("/session/create", None, 400, "INVALID_REQUEST", data=raw)


async def test_an_empty_body_is_an_empty_object(api: Api) -> None:
    payload = await api.ok("/account/sessions", data=b"")
    assert payload["pagination"] == {"total": 0, "limit": 20, "offset": 0}


async def test_unknown_paths_and_methods_answer_json_404(api: Api) -> None:
    error = await api.err("/session/extend", {}, 404, "NOT_FOUND")
    assert error["details"] == {"path": "/session/extend"}
    await api.err("/session/create", None, 404, "NOT_FOUND", method="GET")


async def test_calls_are_counted_per_endpoint(api: Api, emu: Emulator) -> None:
    await api.create()
    await api.ok("/account/balance", method="GET")
    await api.ok("/account/balance")
    assert emu.state.account().calls == {"session/create": 1, "account/balance": 2}
