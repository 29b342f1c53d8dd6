"""The falcon WSGI application served by gunicorn (``canopsis.webserver.app:create_app()``)."""

import falcon

from canopsis import __version__


class Version:
    auth_required = False

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"name": "canopsis", "version": __version__}


class Healthcheck:
    auth_required = False

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


def create_app() -> falcon.App:
    app = falcon.App()
    app.add_route("/api/v2/version", Version())
    app.add_route("/api/v2/healthcheck", Healthcheck())
    return app
