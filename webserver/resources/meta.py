"""``/api/v2/version`` and ``/api/v2/healthcheck``: the two routes open without credentials."""

import falcon
from canopsis.webserver.api import Api

from canopsis import __version__


class Version:
    auth_required = False

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"name": "canopsis", "version": __version__}


class Healthcheck:
    auth_required = False

    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self.api.db.command("ping")
            database = "up"
        except Exception:
            database = "down"
        resp.media = {"status": "ok" if database == "up" else "down", "database": database}
        if database != "up":
            resp.status = falcon.HTTP_503


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/version", Version()), ("/api/v2/healthcheck", Healthcheck(api))]
