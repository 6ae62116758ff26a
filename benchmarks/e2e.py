"""End-to-end runs: the fake Bot API server, and the bot (plugbot or baseline) as its own process.

Throughput is measured by the server, from the first update it served to the
last reply it received: for plugbot that is when the run is confirmed complete
(the polling loop asks for the next offset only after the batch's replies were
sent); the baseline confirms updates before handling them, so its run ends
when the expected number of replies arrived.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from .fakeapi import FakeApiProcess
from .instrument import WARMUP, percentile
from .services import Storage, bot_config, pending_updates, plugins_for, write_config
from .workloads import Workload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _timeout(n: int) -> float:
    return 120 + n / 20  # generous: 20 updates/s would be a broken bot, not a slow one


def _server_numbers(stats: dict[str, Any], n: int, end: float | None) -> dict[str, Any]:
    start = stats["first_served_at"]
    elapsed = (end - start) if (start is not None and end is not None) else 0.0
    latencies = stats["latencies"]
    return {
        "elapsed_s": elapsed, "updates_per_s": n / elapsed if elapsed > 0 else 0.0,
        "replies": stats["reply_count"], "duplicates": stats["duplicate_messages"],
        "redelivered": stats["redelivered"],
        "server_latency": {"n": len(latencies), "p50_ms": percentile(latencies, 50) * 1000,
                           "p95_ms": percentile(latencies, 95) * 1000,
                           "p99_ms": percentile(latencies, 99) * 1000},
    }


def run_plugbot(server: FakeApiProcess, store: Storage, work: Workload, workers: int, workdir: str, *,
                rate: float = 0.0, charts: bool = False, warmup: Workload | None = None,
                processes: int = 1) -> dict[str, Any]:
    """One plugbot run: load the updates, start the bot, wait until all are confirmed and processed.

    With ``warmup`` (update ids below the measured ones), those updates are served first and
    the clock starts only afterwards, so the run measures a bot whose caches are warm. With
    ``processes`` above 1 the bot is a receiver process (polling, storing) and that many worker
    processes of ``workers`` threads each, as ``run --processes N`` runs it (PostgreSQL only).
    """
    tag = f"{work.name}-{store.backend}-{workers}-{processes}-{int(time.time() * 1000)}"
    updates, kinds = os.path.join(workdir, f"{tag}.jsonl"), os.path.join(workdir, f"{tag}.kinds.json")
    config_path = os.path.join(workdir, f"{tag}.yaml")
    work.write(updates, kinds)
    if warmup is not None:
        with open(kinds, encoding="utf-8") as fh:
            tagged = json.load(fh)
        tagged.update({str(update["update_id"]): WARMUP for update in warmup.updates})
        with open(kinds, "w", encoding="utf-8") as fh:
            json.dump(tagged, fh)
    write_config(bot_config(store, workers=workers, plugins=plugins_for(work.name, charts), api_url=server.url),
                 config_path)
    server.reset()
    n = len(work.updates)
    roles = ["both"] if processes <= 1 else ["receiver"] + ["worker"] * processes
    stats_files = [os.path.join(workdir, f"{tag}.{k}.stats.json") for k in range(len(roles))]
    procs = []
    for role, out in zip(roles, stats_files, strict=True):
        procs.append(subprocess.Popen([sys.executable, "-m", "benchmarks.runner", "--config", config_path,
                                       "--role", role, "--stats-out", out, "--kinds", kinds], cwd=ROOT, env=_env()))
        if role == "receiver":  # it migrates; the workers start on a migrated database, as `run` does it
            deadline = time.monotonic() + 60
            while pending_updates(store.database_url) < 0 and procs[0].poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)

    def finished(s: dict[str, Any]) -> bool:
        # Confirmed means stored (framework.update_queue): the run ends once nothing is left stored.
        return ((s["confirmed_all_at"] is not None and pending_updates(store.database_url) == 0)
                or any(proc.poll() is not None for proc in procs))

    try:
        if warmup is not None:
            server.load(warmup.updates)
            server.wait(finished, _timeout(len(warmup.updates)), interval=0.25)
        server.load(path=updates, rate=rate, correlate=work.name in ("echo", "quick_add", "slow_chat"))
        stats = server.wait(finished, _timeout(n), interval=0.25)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    end = stats["last_reply_at"] if stats["last_reply_at"] is not None else stats["confirmed_all_at"]
    result = {"mode": "e2e", "engine": "plugbot", "workload": work.name, "backend": store.backend,
              "workers": workers, "processes": processes, "n": n, "rate": rate,
              "complete": stats["confirmed_all_at"] is not None and pending_updates(store.database_url) == 0,
              **_server_numbers(stats, n, end)}
    reports = []
    for path in stats_files:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                reports.append(json.load(fh))
    if len(reports) == 1:
        bot = reports[0]
        result.update({"bot": bot, "peak_rss_mb": bot["peak_rss_mb"], "all": bot["all"], "kinds": bot["kinds"],
                       "cpu_ms_per_update": bot.get("cpu_ms_per_update"),
                       "sql_total": bot["sql_total"], "redis_total": bot["redis_total"],
                       "redis_roundtrips": bot["redis_roundtrips"]})
        result.update({k: v for k, v in _combined(reports).items() if k.endswith("_per_update")})
    elif reports:
        result.update(_combined(reports))
    for path in (updates, kinds, config_path, *stats_files):
        if os.path.exists(path):
            os.remove(path)
    return result


def _combined(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers of several bot processes as one bot's: totals summed, the SQL the pipeline ran
    per update weighted by the updates each process handled; what the processes ran besides (the
    queue's store, scan, take and wakeups) is ``queue_sql_per_update``."""
    handled = sum(r["all"]["n"] for r in reports)
    pipeline_sql = sum(r["all"]["sql_per_update"] * r["all"]["n"] for r in reports)
    sql_total = sum(r["sql_total"] for r in reports)
    return {"peak_rss_mb": sum(r["peak_rss_mb"] for r in reports), "sql_total": sql_total,
            "redis_total": sum(r["redis_total"] for r in reports),
            "redis_roundtrips": sum(r["redis_roundtrips"] for r in reports),
            "pipeline_sql_per_update": pipeline_sql / handled if handled else None,
            "queue_sql_per_update": (sql_total - pipeline_sql) / handled if handled else None}


def run_baseline(server: FakeApiProcess, store: Storage, work: Workload, workers: int,
                 workdir: str) -> dict[str, Any]:
    """The same workload on plain pyTelegramBotAPI (echo or quick_add)."""
    tag = f"baseline-{work.name}-{store.backend}-{workers}-{int(time.time() * 1000)}"
    updates, kinds = os.path.join(workdir, f"{tag}.jsonl"), os.path.join(workdir, f"{tag}.kinds.json")
    stats_out = os.path.join(workdir, f"{tag}.stats.json")
    work.write(updates, kinds)
    server.reset()
    server.load(path=updates, correlate=True)
    n = len(work.updates)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.baseline", "--api-url", server.url,
                             "--workload", work.name, "--db", store.database_url, "--workers", str(workers),
                             "--stats-out", stats_out], cwd=ROOT, env=_env())
    try:
        stats = server.wait(lambda s: s["reply_count"] >= n or proc.poll() is not None, _timeout(n), interval=0.25)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    result = {"mode": "e2e", "engine": "baseline", "workload": work.name, "backend": store.backend,
              "workers": workers, "n": n, "rate": 0.0, "complete": stats["reply_count"] >= n,
              **_server_numbers(stats, n, stats["last_reply_at"])}
    if os.path.exists(stats_out):
        with open(stats_out, encoding="utf-8") as fh:
            numbers = json.load(fh)
        result["peak_rss_mb"] = numbers["peak_rss_mb"]
        result["cpu_ms_per_update"] = numbers.get("cpu_ms_per_update")
    for path in (updates, kinds, stats_out):
        if os.path.exists(path):
            os.remove(path)
    return result
