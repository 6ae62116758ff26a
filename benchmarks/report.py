"""Markdown tables of benchmark results, printed as runs finish (pasteable into docs/performance.md)."""
from __future__ import annotations

from typing import Any

MATRIX_HEADER = ("| mode | engine | workload | backend | workers | N | updates/s | p50 ms | p95 ms | p99 ms "
                 "| SQL/update | Redis cmds/update | Redis RTs/update | peak RSS MB | CPU ms/update |")


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def matrix_row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {r['mode']} | plugbot | {r['workload']} | {r['backend']} | {r['workers']} | {r['n']} | failed: {r['error']} |"
    lat = r.get("all") or r.get("server_latency") or {}
    n = r.get("n") or 1
    sql = lat.get("sql_per_update")
    redis_cmds = lat.get("redis_per_update", r["redis_total"] / n if "redis_total" in r else None)
    redis_rt = lat.get("redis_rt_per_update", r["redis_roundtrips"] / n if "redis_roundtrips" in r else None)
    done = "" if r.get("complete", True) else " (incomplete!)"
    return (f"| {r['mode']} | {r.get('engine', 'plugbot')} | {r['workload']} | {r['backend']} | {r['workers']} "
            f"| {r['n']} | {_f(r.get('updates_per_s'), 0)}{done} | {_f(lat.get('p50_ms'))} | {_f(lat.get('p95_ms'))} "
            f"| {_f(lat.get('p99_ms'))} | {_f(sql, 2)} | {_f(redis_cmds, 2)} | {_f(redis_rt, 2)} "
            f"| {_f(r.get('peak_rss_mb'), 0)} | {_f(r.get('cpu_ms_per_update'), 2)} |")


def print_matrix(results: list[dict[str, Any]], header: bool = True) -> None:
    if header:
        print(MATRIX_HEADER)
        print("|" + "---|" * (MATRIX_HEADER.count("|") - 1))
    for r in results:
        print(matrix_row(r), flush=True)


def print_kinds(r: dict[str, Any]) -> None:
    """Latency, SQL and Redis per update type of one run (bot-side numbers)."""
    kinds = r.get("kinds") or {}
    if not kinds:
        return
    print(f"\n{r['mode']} {r['workload']} {r['backend']} workers={r['workers']}"
          + (f" rate={r['rate']:.0f}/s" if r.get("rate") else "") + ":")
    print("| update type | count | p50 ms | p95 ms | p99 ms | SQL/update | Redis cmds/update |")
    print("|---|---|---|---|---|---|---|")
    for kind, s in kinds.items():
        print(f"| {kind} | {s['n']} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} "
              f"| {s['sql_per_update']:.2f} | {s['redis_per_update']:.2f} |")
    print()


def print_baseline(plugbot: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> None:
    """plugbot / baseline throughput for the same workload, backend and workers (both end to end)."""
    ours = {(r["workload"], r["backend"], r["workers"]): r for r in plugbot
            if r.get("mode") == "e2e" and "error" not in r}
    print("\n| workload | backend | workers | plugbot updates/s | baseline updates/s | plugbot/baseline "
          "| plugbot CPU ms/update | baseline CPU ms/update |")
    print("|---|---|---|---|---|---|---|---|")
    for b in baseline:
        mine = ours.get((b["workload"], b["backend"], b["workers"]))
        ratio = (mine["updates_per_s"] / b["updates_per_s"]) if mine and b["updates_per_s"] else None
        print(f"| {b['workload']} | {b['backend']} | {b['workers']} | "
              f"{_f(mine['updates_per_s'], 0) if mine else '—'} | {_f(b['updates_per_s'], 0)} | {_f(ratio, 2)} "
              f"| {_f(mine.get('cpu_ms_per_update') if mine else None, 2)} | {_f(b.get('cpu_ms_per_update'), 2)} |")


def print_scale(results: list[dict[str, Any]]) -> None:
    print("\n| stored expenses | users | workload | updates/s | p50 ms | p99 ms | SQL/update | Redis cmds/update "
          "| prepare s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r.get('expenses')} | {r.get('users')} | {r.get('workload')} | failed: {r['error']} |")
            continue
        a = r["all"]
        print(f"| {r['expenses']:,} | {r['users']:,} | {r['workload']} | {r['updates_per_s']:.0f} | "
              f"{a['p50_ms']:.1f} | {a['p99_ms']:.1f} | {a['sql_per_update']:.2f} | {a['redis_per_update']:.2f} "
              f"| {r.get('prepare_s', 0):.0f} |")


PROCESSES_HEADER = ("| workload | worker processes | offered/s | N | updates/s | reply p50 ms | reply p99 ms | pipeline SQL/update "
                    "| queue SQL/update | peak RSS MB (all) |")


def print_processes(results: list[dict[str, Any]], header: bool = True) -> None:
    """Throughput and reply latency (the fake server's: update served → its reply, echo and
    quick-add only) by worker processes; SQL per update split into the pipeline's and the queue's."""
    if header:
        print(PROCESSES_HEADER)
        print("|" + "---|" * (PROCESSES_HEADER.count("|") - 1))
    for r in results:
        lat = r.get("server_latency") or {}
        has_latency = bool(lat.get("n"))
        done = "" if r.get("complete", True) else " (incomplete!)"
        offered = f"{r['rate']:.0f}" if r.get("rate") else "all at once"
        print(f"| {r['workload']} | {r['processes'] if r['processes'] > 1 else '1 (run)'} | {offered} | {r['n']} "
              f"| {_f(r.get('updates_per_s'), 0)}{done} | {_f(lat.get('p50_ms')) if has_latency else '—'} "
              f"| {_f(lat.get('p99_ms')) if has_latency else '—'} | {_f(r.get('pipeline_sql_per_update'), 2)} "
              f"| {_f(r.get('queue_sql_per_update'), 2)} | {_f(r.get('peak_rss_mb'), 0)} |", flush=True)
