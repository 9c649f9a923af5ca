"""A live pinchpoint server on a free loopback port, and Debian's chromium driven by Playwright.

Shared by the browser tests and by ``tools/screenshots.py``, so that the screenshots in
``docs/`` are taken exactly as the tests see the pages. Browsers are never downloaded:
Playwright drives the system's ``/usr/bin/chromium`` (``apt-get install chromium``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from pinchpoint.service.store import Store, sqlite_url
from pinchpoint.web import Settings, create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(database: Path) -> Iterator[str]:
    """Serve pinchpoint in a thread on a free loopback port; yield its base URL."""
    port = free_port()
    store = Store.open(sqlite_url(database))
    app = create_app(Settings(port=port), store=store)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="pinchpoint-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live pinchpoint server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@contextmanager
def chromium() -> Iterator[object]:
    """Launch Debian's chromium headless through Playwright; yield the browser."""
    # Imported here so that the suite still collects, and skips, where Playwright is absent.
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
