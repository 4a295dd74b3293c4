"""When the server at --base-url is not the API (an HTML error page, a web server's 404), the
one-line error says so, shows the page's title and points at --base-url; a silent server is
bounded by --timeout, given before or after the command."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli.conftest import EmulatorThread, Invoke

PAGES = {
    "/nginx-501": (501, "text/html", "<html><head><title>501 Not Implemented</title></head>"),
    "/nginx-502": (502, "text/html", "<html><head>\n<title>502 Bad Gateway</title></head>"),
    "/web-404": (
        404,
        "text/html",
        "<!doctype html><html><head><title>Page not found &middot; Acme</title></head></html>",
    ),
    "/framework-404": (404, "application/json", '{"detail": "Not Found"}'),
    "/plain-200": (200, "text/plain", "it works"),
}


class _Site(BaseHTTPRequestHandler):
    """Answers every path under one of ``PAGES`` with that page, whatever the method."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        prefix = "/" + self.path.strip("/").split("/")[0]
        status, content_type, body = PAGES[prefix]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def error_line(invoke: Invoke, base_url: str, *args: str) -> tuple[int, str]:
    result = invoke(*args, base_url=base_url)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return result.exit_code, lines[0]


@pytest.mark.parametrize(
    ("page", "title"),
    [("/nginx-501", "501 Not Implemented"), ("/web-404", "Page not found · Acme")],
)
def test_an_html_page_is_named_as_not_the_api(
    site: str, invoke: Invoke, page: str, title: str
) -> None:
    url = site + page
    code, line = error_line(invoke, url, "balance")

    assert code == 4
    assert "does not look like the BBRE API" in line
    assert f'"{title}"' in line
    assert f"check --base-url ({url}) or BBRE_BASE_URL" in line
    assert "transient" not in line and "see the message above" not in line


def test_a_framework_404_on_a_known_path_is_not_the_api(site: str, invoke: Invoke) -> None:
    code, line = error_line(invoke, site + "/framework-404", "sessions", "list")

    assert code == 4
    assert "HTTP 404" in line and "does not look like the BBRE API" in line
    assert "--base-url" in line


def test_a_gateway_page_is_worth_another_try(site: str, invoke: Invoke) -> None:
    code, line = error_line(invoke, site + "/nginx-502", "account")

    assert code == 4
    assert 'a gateway answered instead of the BBRE API (its page is titled "502 Bad Gateway")' in (
        line
    )
    assert "try again in a few seconds" in line


def test_a_plain_200_page_is_not_the_api_either(site: str, invoke: Invoke) -> None:
    code, line = error_line(invoke, site + "/plain-200", "balance")

    assert code == 4
    assert "does not look like the BBRE API" in line


@pytest.fixture(scope="module")
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(10)
        for connection in held:
            connection.close()
        listener.close()


@pytest.mark.parametrize(
    "args",
    [
        ("--timeout", "0.3", "balance"),
        ("balance", "--timeout", "0.3"),
        ("account", "--timeout", "0.3"),
        ("sessions", "list", "--timeout", "0.3"),
        ("sessions", "close", "session_x", "--timeout", "0.3"),
        ("history", "--timeout", "0.3"),
    ],
)
def test_timeout_bounds_every_command(
    silent_server: str, invoke: Invoke, args: tuple[str, ...]
) -> None:
    code, line = error_line(invoke, silent_server, *args)

    assert code == 5
    assert "raise --timeout" in line


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_timeout_is_a_usage_error(invoke: Invoke, value: str) -> None:
    assert invoke("--timeout", value, "balance").exit_code == 2
    assert invoke("balance", "--timeout", value).exit_code == 2


def test_timeout_bounds_reap(silent_server: str, invoke: Invoke, tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.sqlite3")

    code, line = error_line(
        invoke, silent_server, "sessions", "reap", "--ledger-path", ledger, "--timeout", "0.3"
    )

    assert code == 5
    assert line.startswith("error: reaping sessions failed: ")


def test_a_wrong_path_on_the_right_server_points_at_the_base_url(
    server: EmulatorThread, invoke: Invoke
) -> None:
    url = server.base_url + "/v1"
    code, line = error_line(invoke, url, "balance")

    assert code == 4
    assert "HTTP 404" in line
    assert f"the server has no such endpoint, so --base-url ({url}) does not look like" in line
    assert "see the message above" not in line
