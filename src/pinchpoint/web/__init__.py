"""The web app: self-check with a body map, clinician mode, saved history.

``pinchpoint serve`` runs it (see :mod:`pinchpoint.web.server`); :func:`create_app`
builds the ASGI application from :class:`Settings`, so tests and other servers can host
it too. The pages are rendered on the server (Jinja2) and work without JavaScript; a
little local script adds the clickable body map and the live clinician assessment. Every
page says that pinchpoint supports and does not replace a clinician's judgement, and
what to do in an emergency.
"""

from __future__ import annotations

from pinchpoint.web.app import create_app
from pinchpoint.web.settings import Settings

__all__ = ["Settings", "create_app"]
