"""gunicorn's settings for the webhook: ``gunicorn.conf.py`` at the project root imports them, and
``python -m framework run`` in webhook mode hands them to gunicorn as
``-c python:framework.transports.gunicorn_settings`` (so an installed package needs no file).

Everything comes from the bot's config (``PLUGBOT_CONFIG``, else ``./config.yaml``): the address
is ``telegram.webhook.listen``/``port``, the processes and threads
``telegram.webhook.gunicorn.workers``/``threads`` (``WEB_CONCURRENCY`` and
``PLUGBOT_GUNICORN_THREADS`` win). No secret is ever on gunicorn's command line, and its access log
goes through the one redactor: a token in a URL path is ``***`` there too.
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile
from typing import Any

from gunicorn.glogging import Logger

from ..config import load_config
from ..redaction import redact

# framework.metrics's name for it, spelt out: importing that module imports prometheus_client,
# which must only happen once the variable is set (below).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_CONFIG_PATH = os.environ.get("PLUGBOT_CONFIG") or "config.yaml"
_CONFIG = load_config(_CONFIG_PATH)
_HOOK = _CONFIG["telegram"]["webhook"]
_OWN_METRICS_DIR: str | None = None

# /metrics under several processes: each one writes its values to files in this directory and a
# scrape sums them. prometheus_client reads the variable when it is first imported, so it is set
# here, in the master, before any worker exists.
if not os.environ.get(MULTIPROC_ENV):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="plugbot-metrics-")
    os.environ[MULTIPROC_ENV] = _OWN_METRICS_DIR

_listen = str(_HOOK["listen"])
bind = [f"[{_listen}]:{_HOOK['port']}" if ":" in _listen else f"{_listen}:{_HOOK['port']}"]
# Threads, not processes alone: a worker mostly waits (on the database, Redis, Telegram), and
# every thread of one process shares its application, pools and caches.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or _HOOK["gunicorn"]["workers"])
threads = int(os.environ.get("PLUGBOT_GUNICORN_THREADS") or _HOOK["gunicorn"]["threads"])
timeout = int(_HOOK["gunicorn"]["timeout"])
graceful_timeout = 30  # the same grace as a polling bot's stop (docs/deployment.md#stopping)
keepalive = 5
# Never load the application in the master: its pools and threads must not cross the fork, and
# only one application may be live in a process (framework.app.ApplicationLiveError).
preload_app = False
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
proc_name = "plugbot-webhook"
# gunicorn 24+'s management socket lives under $HOME, which the container's user may not be able
# to write; nothing here uses it (older versions ignore the name).
control_socket_disable = True


class RedactedAccessLog(Logger):
    """gunicorn's logger, with every access-log field through :func:`framework.redaction.redact`
    and the webhook's secret header never shown (whatever ``access_log_format`` asks for)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: ("***" if "secret" in key.lower() else redact(value) if isinstance(value, str) else value)
                for key, value in atoms.items()}


logger_class = RedactedAccessLog


def on_starting(server: Any) -> None:
    """In the master, once: a clean metrics directory and the migrations (run here, not by each
    worker at once, which would race to create the same tables)."""
    directory = os.environ[MULTIPROC_ENV]
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):  # a previous run's values
        os.remove(stale)
    from ..app import Application

    with Application(_CONFIG) as app:  # stopped before any fork: nothing live crosses it
        if _CONFIG["auto_migrate"]:
            app.migrate()


def worker_exit(server: Any, worker: Any) -> None:
    """In the worker that stops: finish the updates in hand, record the heartbeat's stop."""
    from .webhook import stop_served_app

    stop_served_app()


def child_exit(server: Any, worker: Any) -> None:
    """In the master: a dead worker's live gauges no longer count (its counters still do)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _OWN_METRICS_DIR is not None:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
