"""``pinchpoint serve``: run the web app with uvicorn.

The server binds to 127.0.0.1 unless told otherwise, keeps its data in a SQLite file in
the user's data folder unless given a database URL, and logs no request bodies, no URLs
with values and no findings: uvicorn's access log is off and the app logs the route
template only (:mod:`pinchpoint.web.limits`). Connections, bodies and concurrency are bounded
(:mod:`pinchpoint.web.limits`), and numerical libraries compute on one thread: the server's
parallelism is its requests, and a BLAS pool per request would only make them fight for the cores.

On any address other than loopback, or behind a proxy, it refuses to start (exit 2, every reason named) unless
health data is protected on the way: at least one account, TLS (its own certificate, or a
reverse proxy in front that serves HTTPS) and the host names it answers to
(:meth:`~pinchpoint.web.settings.Settings.check_safe_to_serve`).
"""

from __future__ import annotations

import gc
import logging
import sys

import uvicorn
from threadpoolctl import threadpool_limits

from pinchpoint.service.accounts import Accounts
from pinchpoint.service.store import Store
from pinchpoint.web.app import create_app
from pinchpoint.web.limits import uvicorn_options
from pinchpoint.web.settings import Settings

__all__ = ["serve"]

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve(settings: Settings) -> None:
    """Check that serving is safe, build the app and serve it until interrupted.

    Raises:
        UnsafeServeError: Not on loopback, and accounts, TLS or the allowed host names are missing;
            or the session key's file is unsafe.
        KnowledgeError: The knowledge or the pages' data are broken.
        StoreError: The database cannot be opened or migrated.
        CdsAuthError: A CDS issuer's keys cannot be read.
    """
    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT, stream=sys.stderr)
    threadpool_limits(limits=1)  # numpy is imported already: set its BLAS (and OpenMP) pools to one thread
    store = Store.open(settings.resolved_database_url(), session_idle_limit=settings.session_idle_limit)
    try:
        accounts = Accounts(store.engine)
        settings.check_safe_to_serve(accounts=accounts.any())
        app = create_app(settings, store=store, accounts=accounts)
        if accounts.any():
            app.state.gate.secret()  # a missing key is made now, an unsafe one refused before serving
        # The knowledge lives as long as the server: set it (and everything else loaded at start-up)
        # aside from garbage collection, so that collections under load do not walk it again.
        gc.freeze()
        _announce(settings)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_level="warning",
            ws="none",
            server_header=False,
            proxy_headers=False,
            ssl_certfile=settings.tls_cert or None,
            ssl_keyfile=settings.tls_key or None,
            **uvicorn_options(),
        )
    finally:
        store.close()


def _announce(settings: Settings) -> None:
    url_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    scheme = "https" if settings.tls_cert else "http"
    sys.stderr.write(
        f"pinchpoint: serving on {scheme}://{url_host}:{settings.port}/ (press Ctrl+C to stop)\n"
    )
    if settings.exposed:
        sys.stderr.write(
            "pinchpoint: answering the host names "
            + ", ".join(settings.resolved_allowed_hosts())
            + "; every page and API route needs a login"
            + ("" if settings.cds_issuers else "; CDS services refuse every call (no --cds-issuer)")
            + "\n"
        )
