"""The operator console: its page and built files under ``/console/``; ``/`` leads there.

``build-install.sh`` builds the console from ``console/`` of the sources into
``$PREFIX/share/console`` (:func:`canopsis.ops.paths.share`). The files are served
without credentials (they hold no data: the console asks the API, which wants a
session); any other path under ``/console/`` answers the page, since the console
routes in the browser, so a bookmarked view loads. Every answer under ``/console``
carries a Content-Security-Policy allowing the console's own files only: no
inline script, no other origin.
"""

import logging
from pathlib import Path

import falcon
from falcon.routing import StaticRoute

from canopsis.ops import paths
from canopsis.webserver.errors import ApiError

log = logging.getLogger("canopsis.webserver")

PATH = "/console"
PAGE = "index.html"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class Root:
    """``/``: the console."""

    auth_required = False

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPFound(f"{PATH}/")


class Missing:
    """``/console`` when the install has no console built: a 503 saying where it should be."""

    auth_required = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def on_get(self, req: falcon.Request, resp: falcon.Response, rest: str = "") -> None:
        raise ApiError(
            503, f"the console is not installed ({self.folder} is missing): run build-install.sh"
        )


def public(resource: object) -> bool:
    """Whether ``resource`` is one of the console's files (served without credentials)."""
    return isinstance(resource, StaticRoute)


def csp(req: falcon.Request, resp: falcon.Response) -> None:
    """The console's Content-Security-Policy, on what is served under ``/console``."""
    if req.path == PATH or req.path.startswith(f"{PATH}/"):
        resp.set_header("Content-Security-Policy", CSP)


def install(app: falcon.App, folder: Path | None = None) -> None:
    """Serve the console's files of ``folder`` (by default the install's) and ``/``."""
    folder = folder if folder is not None else paths.share("console")
    app.add_route("/", Root())
    if (folder / PAGE).is_file():
        app.add_static_route(PATH, str(folder), fallback_filename=PAGE)
        return
    log.warning("the console is not installed: %s is missing", folder / PAGE)
    missing = Missing(folder)
    app.add_route(PATH, missing)
    app.add_route(PATH + "/{rest:path}", missing)
