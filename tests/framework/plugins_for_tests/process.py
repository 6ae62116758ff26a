"""Another bot process for the tests that need several: ``python -m plugins_for_tests.process MODE CONFIG``.

One application is live per OS process (``ApplicationLiveError``), so a test that needs two or
three processes on one database starts this module in subprocesses. ``CONFIG`` is the JSON of
the config overrides. Modes:

* ``jobs`` -- start with the scheduler (it competes for the job leadership) and serve until killed;
* ``console`` -- start without the scheduler and answer questions from stdin, one per line:
  ``status NAME`` (the plugin's status here) and ``setting KEY`` (an app setting as read here).
  Each answer is one line on stdout, after the process's usual refresh.
"""
from __future__ import annotations

import json
import sys
import time

from framework.app import create_app
from framework.config import load_config


def main(mode: str, overrides: str) -> None:
    app = create_app(load_config(None, env={}, overrides=json.loads(overrides)))
    app.start(scheduler=mode == "jobs", telegram=False)
    print("started", flush=True)
    if mode == "jobs":
        while True:
            time.sleep(1)
    for line in sys.stdin:
        question, _, name = line.strip().partition(" ")
        app.runtime.refresh()  # what an update or a job arriving here would do first
        if question == "status":
            app.runtime.plugin_statuses()
            print(app.plugins.plugins[name].status, flush=True)
        elif question == "setting":
            print(app.runtime.settings().get(name), flush=True)
    app.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
