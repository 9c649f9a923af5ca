"""``pinchpoint serve``: run the web app with uvicorn on this computer.

The server binds to 127.0.0.1 unless told otherwise, keeps its data in a SQLite file in
the user's data folder unless given a database URL, and logs no request bodies, no URLs
with values and no findings: uvicorn's access log is off and the app logs the route
template only (:mod:`pinchpoint.web.limits`). Connections, bodies and concurrency are bounded
(:mod:`pinchpoint.web.limits`), and numerical libraries compute on one thread: the server's
parallelism is its requests, and a BLAS pool per request would only make them fight for the cores.
"""

from __future__ import annotations

import gc
import logging
import sys

import uvicorn
from threadpoolctl import threadpool_limits

from pinchpoint.web.app import create_app
from pinchpoint.web.limits import uvicorn_options
from pinchpoint.web.settings import Settings

__all__ = ["serve"]

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve(settings: Settings) -> None:
    """Build the app and serve it until interrupted.

    Raises:
        KnowledgeError: The knowledge or the pages' data are broken.
        StoreError: The database cannot be opened or migrated.
    """
    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT, stream=sys.stderr)
    threadpool_limits(limits=1)  # numpy is imported already: set its BLAS (and OpenMP) pools to one thread
    app = create_app(settings)
    # The knowledge lives as long as the server: set it (and everything else loaded at start-up)
    # aside from garbage collection, so that collections under load do not walk it again.
    gc.freeze()
    url_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    sys.stderr.write(f"pinchpoint: serving on http://{url_host}:{settings.port}/ (press Ctrl+C to stop)\n")
    if not settings.loopback:
        sys.stderr.write(
            "pinchpoint: warning: this address can be reached from other computers; the pages hold "
            "health data and have no login. Serve on 127.0.0.1 unless you know the network is private.\n"
        )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        ws="none",
        server_header=False,
        proxy_headers=False,
        **uvicorn_options(),
    )
