"""Webhook: Telegram POSTs each update to a small WSGI application.

The endpoint only authenticates, parses and stores the update durably (the
``incoming_updates`` table, framework.update_queue), then answers 200; the
queue's workers do the work. Telegram waits for the answer before sending the
chat's next update, so a slow handler must not hold the request. If storing
fails the answer is 500 and Telegram retries: nothing is acknowledged unstored.

Authentication is Telegram's ``secret_token``: every request carries it in
``X-Telegram-Bot-Api-Secret-Token``, compared in constant time.

Beside the webhook the same application answers ``GET /healthz`` (JSON, 200 or 503) and
``GET /metrics`` (Prometheus). In production it runs under gunicorn (``gunicorn.conf.py``,
:func:`create_app`), one application per worker process; :func:`serve_webhook` is the
single-process server of tests and small setups.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import socketserver
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..config import ConfigError
from ..origin import malformed
from ..redaction import describe_error
from . import App

if TYPE_CHECKING:
    from ..health import HealthReport

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
DEFAULT_CONFIG = "config.yaml"
SECRET_HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"
MAX_BODY = 1024 * 1024  # updates are a few KiB; refuse anything absurd before reading it
READ_TIMEOUT = 30.0
"""Seconds the built-in server waits for a client's next bytes: an idle half-open connection
must not hold a thread forever. (Behind a proxy or under load, serve ``make_wsgi_app`` with
gunicorn instead.)"""

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}


def make_wsgi_app(app: App, secret_token: str, path: str = "/webhook",
                  health: Callable[[], HealthReport] | None = None) -> WSGIApp:
    """The WSGI callable: ``POST path`` takes updates, ``GET /healthz`` runs the health checks
    (:func:`framework.health.app_health` unless ``health`` is given): ``200`` when healthy,
    ``503`` otherwise, with a JSON body either way; ``GET /metrics`` is the Prometheus exposition
    (:mod:`framework.metrics`).

    A secret is required: without it anyone who guesses the URL could
    inject updates in the name of any user.
    """
    if health is None:
        from ..health import app_health

        def health() -> HealthReport:
            return app_health(app)
    if not secret_token:
        raise ValueError("a webhook needs a secret_token (telegram.webhook.secret_token)")
    expected = secret_token.encode("utf-8")

    def webhook(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if route == HEALTH_PATH:
            if method not in ("GET", "HEAD"):
                return _respond(start_response, 405, allow="GET, HEAD")
            report = health()
            return _respond(start_response, 200 if report.healthy else 503,
                            json.dumps(report.as_json(), ensure_ascii=False).encode("utf-8"),
                            content_type="application/json")
        if route == METRICS_PATH:
            if method not in ("GET", "HEAD"):
                return _respond(start_response, 405, allow="GET, HEAD")
            from ..metrics import render

            body, content_type = render(app)
            return _respond(start_response, 200, body, content_type=content_type)
        if route != path:
            return _respond(start_response, 404)
        if method != "POST":
            return _respond(start_response, 405, allow="POST")
        given = environ.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            return _respond(start_response, 403)
        status, update = _read_update(environ)
        if update is None:
            return _respond(start_response, status)
        try:
            app.feed(update)
        except Exception:
            logger.exception("could not store webhook update %s", update.get("update_id"))
            return _respond(start_response, 500)
        return _respond(start_response, 200)

    return webhook


def _read_update(environ: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """(status, update): the update when the body is a JSON object Telegram could have sent
    (:func:`framework.origin.malformed`): integer ids, no nesting deeper than the parser goes."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 400, None
    if length > MAX_BODY:
        return 413, None
    try:
        body = environ["wsgi.input"].read(length) if length > 0 else b""
    except TimeoutError:  # a client that announced a body and stopped sending it
        return 408, None
    try:
        update = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: a nesting bomb
        return 400, None
    problem = malformed(update)
    if problem is not None:
        logger.info("webhook update refused: %s", problem)
        return 400, None
    return 200, update


def _respond(start_response: StartResponse, status: int, body: bytes = b"", allow: str | None = None,
             content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if allow:
        headers.append(("Allow", allow))
    start_response(f"{status} {_REASONS[status]}", headers)
    return [body]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow client cannot stall Telegram's deliveries."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up or sent garbage is its own problem: a log line, not a raw
        # traceback on stderr (socketserver's default).
        logger.debug("webhook connection from %s failed", client_address, exc_info=True)


class _LoggingRequestHandler(WSGIRequestHandler):
    """Access lines go to logging at DEBUG instead of wsgiref's raw stderr; a client silent
    for ``timeout`` seconds is disconnected."""

    timeout = READ_TIMEOUT  # socketserver sets it on the connection before reading

    def handle(self) -> None:
        try:
            super().handle()
        except TimeoutError:
            logger.debug("webhook client %s silent for %ss: disconnected", self.address_string(), self.timeout)

    def log_message(self, format: str, *args: Any) -> None:  # wsgiref's parameter name
        logger.debug("%s - " + format, self.address_string(), *args)


def make_webhook_server(app: App, listen: str, port: int, *, secret_token: str, path: str = "/webhook",
                        health: Callable[[], HealthReport] | None = None,
                        read_timeout: float = READ_TIMEOUT) -> WSGIServer:
    """A bound, threaded server for the webhook (``port=0`` picks a free port); a connection
    that sends nothing for ``read_timeout`` seconds is closed."""
    handler = type("_WebhookRequestHandler", (_LoggingRequestHandler,), {"timeout": read_timeout})
    return make_server(listen, port, make_wsgi_app(app, secret_token, path, health),
                       server_class=_ThreadingWSGIServer, handler_class=handler)


def serve_webhook(app: App, listen: str | None = None, port: int | None = None, *,
                  secret_token: str | None = None, path: str | None = None) -> None:
    """Serve the webhook until ``app.stopping`` is set.

    Anything not passed comes from ``app.config['telegram']['webhook']``
    (``listen``, ``port``, ``secret_token``, ``path``). Registering the URL
    with Telegram is :func:`set_webhook`'s job.
    """
    settings = app.config["telegram"]["webhook"]
    listen = listen if listen is not None else settings.get("listen", "0.0.0.0")
    port = port if port is not None else int(settings.get("port", 8080))
    try:
        server = make_webhook_server(
            app, listen, port,
            secret_token=secret_token if secret_token is not None else settings.get("secret_token", ""),
            path=path if path is not None else settings.get("path", "/webhook"),
        )
    except OSError as exc:  # the port is taken, the address is not this host's: the operator's to fix
        raise ConfigError([f"telegram.webhook.port: cannot listen on {listen}:{port}: {describe_error(exc)}"]) from None
    host, bound_port = server.server_address[:2]
    logger.info("webhook listening on %s:%s", host, bound_port)
    watcher = threading.Thread(target=_shutdown_when_stopping, args=(app, server),
                               name="plugbot-webhook-stop", daemon=True)
    watcher.start()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


def _shutdown_when_stopping(app: App, server: WSGIServer) -> None:
    app.stopping.wait()
    server.shutdown()


def set_webhook(app: App, url: str | None = None, *, secret_token: str | None = None,
                allowed_updates: list[str] | None = None, max_connections: int | None = None,
                drop_pending_updates: bool = False) -> Any:
    """Tell Telegram to POST updates to ``url`` with ``secret_token``, only the kinds the enabled
    plugins handle (``app.allowed_updates()``), over at most ``max_connections`` connections at
    once (defaults from the config)."""
    settings = app.config["telegram"]["webhook"]
    url = url if url is not None else settings.get("url", "")
    secret_token = secret_token if secret_token is not None else settings.get("secret_token", "")
    if not url or not secret_token:
        raise ValueError("set_webhook needs telegram.webhook.url and telegram.webhook.secret_token")
    if allowed_updates is None and hasattr(app, "allowed_updates"):
        allowed_updates = updates_to_ask_for(app)
    if max_connections is None:
        max_connections = int(settings.get("max_connections", 40))
    return app.sender.call("set_webhook", url=url, secret_token=secret_token, allowed_updates=allowed_updates,
                           max_connections=max_connections, drop_pending_updates=drop_pending_updates)


def updates_to_ask_for(app: Any) -> list[str]:
    """The update kinds the enabled plugins handle: what every bot serves (messages, payments
    included, buttons, pre-checkout queries) and what observers watch (edits, member changes).
    Always a list: without one, Telegram keeps the list of the previous ``setWebhook``, so a bot
    whose member-watching plugin was disabled would go on receiving member updates."""
    from ..pipeline import SERVED

    return app.allowed_updates() or sorted(SERVED | app.routes.observed())


def webhook_info(app: App) -> dict[str, Any]:
    """Telegram's view of the webhook (``getWebhookInfo``), safe to print: the URL without its
    query and with any secret it holds redacted; dates as UTC text."""
    import datetime as dt
    from urllib.parse import urlsplit, urlunsplit

    from ..redaction import redact

    info = app.sender.call("get_webhook_info")
    fields = info if isinstance(info, dict) else {key: getattr(info, key, None) for key in (
        "url", "has_custom_certificate", "pending_update_count", "ip_address", "last_error_date",
        "last_error_message", "last_synchronization_error_date", "max_connections", "allowed_updates")}
    url = fields.get("url") or ""
    if url:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")  # user:password@ never shown
        url = redact(urlunsplit((parts.scheme, netloc, parts.path, "", "")))
    shown: dict[str, Any] = {"url": url, "pending_update_count": fields.get("pending_update_count") or 0,
                             "max_connections": fields.get("max_connections"),
                             "allowed_updates": fields.get("allowed_updates")}
    for key in ("last_error_date", "last_synchronization_error_date"):
        stamp = fields.get(key)
        shown[key] = (dt.datetime.fromtimestamp(int(stamp), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                      if stamp else None)
    message = fields.get("last_error_message")
    shown["last_error_message"] = redact(str(message)) if message else None
    return shown


# -- under gunicorn ------------------------------------------------------------------------------------

_served: list[Any] = []  # (application, heartbeat) of this worker process, for stop_served_app()


def create_app(config_path: str | None = None) -> WSGIApp:
    """The WSGI application gunicorn serves: ``gunicorn -c gunicorn.conf.py
    'framework.transports.webhook:create_app()'``.

    Called in each worker process after the fork (never preload it: an application's database
    pool, Redis connections and threads cannot cross a fork, and only one is live per process),
    it reads the config (``config_path``, else ``PLUGBOT_CONFIG``, else ``./config.yaml``), builds
    and starts the application with its heartbeat, and returns :func:`make_wsgi_app` for it.
    gunicorn.conf.py's ``worker_exit`` calls :func:`stop_served_app`.
    """
    from ..app import Application
    from ..config import load_config
    from ..heartbeat import Heartbeat
    from ..logs import configure_logging

    path = config_path or os.environ.get("PLUGBOT_CONFIG") or DEFAULT_CONFIG
    config = load_config(path)
    configure_logging(level=config["logging"]["level"], fmt=config["logging"]["format"])
    app = Application(config)
    try:
        app.start()
        app.queue.start()  # every gunicorn worker receives and works: stored updates go to any of them
        heartbeat = Heartbeat(app, "webhook")
        heartbeat.start()
    except BaseException:
        app.stop()
        raise
    _served.append((app, heartbeat))
    settings = config["telegram"]["webhook"]
    logger.info("webhook worker %s serving %s", os.getpid(), settings["path"])
    return make_wsgi_app(app, settings["secret_token"], settings["path"])


def stop_served_app() -> None:
    """Stop this worker's application: the updates in hand finish, the heartbeat records the stop."""
    while _served:
        app, heartbeat = _served.pop()
        app.stopping.set()
        try:
            heartbeat.stop()  # as `run` does: the stop is recorded while the database is still open
        finally:
            app.stop()
