"""``python -m benchmarks``: the benchmark matrix (modes × workloads × backends), printed as tables (and saved as JSON).

    python -m benchmarks                         # everything at N=20,000 (takes a while)
    python -m benchmarks --n 2000 --workers 4    # a quick look
    python -m benchmarks --modes inproc --workloads mix --backends postgres
    python -m benchmarks --only scale --scale 10000,100000 [--scale-1m]
    python -m benchmarks --only processes --n 6000 --processes 1,2,4

Sections: ``matrix`` (workloads × backends × workers × modes), ``baseline``
(plain pyTelegramBotAPI, same fake server), ``latency`` (the mix at a fixed
offered load, so latency is not queueing), ``scale`` (quick-add and /stats
against 10^4…10^6 stored expenses and 100k users) and ``processes`` (one receiver and
1, 2, 4 worker processes on PostgreSQL + Redis, end to end, and a polling batch with one slow
chat in it). Numbers only: nothing here
asserts a time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from typing import Any

from . import e2e, scale
from .fakeapi import FakeApiProcess
from .report import print_baseline, print_kinds, print_matrix, print_processes, print_scale
from .services import storage
from .workloads import generate

SECTIONS = ("matrix", "baseline", "latency", "scale", "processes")


def _csv(text: str, kind: type = str) -> list[Any]:
    return [kind(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="updates per run (default 20,000)")
    parser.add_argument("--users", type=int, default=1000, help="distinct users (default 1,000)")
    parser.add_argument("--workloads", default="echo,quick_add,mix")
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="sqlite = SQLite + in-memory services; postgres = PostgreSQL + Redis")
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--modes", default="inproc,e2e")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run: {','.join(SECTIONS)}")
    parser.add_argument("--latency-rates", default="50,100,200",
                        help="offered loads (updates/s) of the latency section (default 50,100,200)")
    parser.add_argument("--latency-workers", type=int, default=4)
    parser.add_argument("--scale", default="10000,100000", help="stored expenses for the scale section")
    parser.add_argument("--scale-1m", action="store_true", help="also 10^6 stored expenses (slow to prepare)")
    parser.add_argument("--scale-users", type=int, default=100_000)
    parser.add_argument("--scale-n", type=int, default=3000, help="updates per scale run")
    parser.add_argument("--processes", default="1,2,4", help="worker processes for the processes section")
    parser.add_argument("--processes-workloads", default="quick_add,mix")
    parser.add_argument("--slow-rate", type=float, default=60,
                        help="offered updates/s of the slow-chat pair (echo, then echo with one slow chat)")
    parser.add_argument("--processes-workers", type=int, default=4, help="threads per worker process")
    parser.add_argument("--charts", action="store_true", help="let /stats render its matplotlib chart")
    parser.add_argument("--json", default=None, help="also write every result to this JSON file")
    return parser.parse_args(argv)


def _inproc(workload: str, backend: str, workers: int, n: int, users: int, workdir: str, *,
            rate: float = 0.0, charts: bool = False, extra: list[str] | None = None) -> dict[str, Any]:
    """One in-process run in a child process (its own peak RSS, no state shared between runs)."""
    command = [sys.executable, "-m", "benchmarks.inproc", "--workload", workload, "--backend", backend,
               "--workers", str(workers), "--n", str(n), "--users", str(users), "--rate", str(rate),
               "--workdir", workdir] + (["--charts"] if charts else []) + (extra or [])
    done = subprocess.run(command, cwd=e2e.ROOT, env=e2e._env(), capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return {"mode": "inproc", "workload": workload, "backend": backend, "workers": workers, "n": n,
                "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_matrix(args: argparse.Namespace, workdir: str) -> list[dict[str, Any]]:
    results = []
    modes, workloads = _csv(args.modes), _csv(args.workloads)
    backends, workers_list = _csv(args.backends), _csv(args.workers, int)
    server = FakeApiProcess(cwd=e2e.ROOT) if "e2e" in modes else None
    try:
        for mode in modes:
            for workload in workloads:
                for backend in backends:
                    for workers in workers_list:
                        if mode == "inproc":
                            result = _inproc(workload, backend, workers, args.n, args.users, workdir,
                                             charts=args.charts)
                        else:
                            with storage(backend, workdir) as store:
                                result = e2e.run_plugbot(server, store, generate(workload, args.n, args.users),
                                                         workers, workdir, charts=args.charts)
                        results.append(result)
                        print_matrix([result], header=len(results) == 1)
    finally:
        if server is not None:
            server.close()
    return results


def run_baselines(args: argparse.Namespace, workdir: str) -> list[dict[str, Any]]:
    results = []
    with FakeApiProcess(cwd=e2e.ROOT) as server:
        for workload in [w for w in _csv(args.workloads) if w in ("echo", "quick_add")]:
            for backend in _csv(args.backends):
                for workers in _csv(args.workers, int):
                    with storage(backend, workdir) as store:
                        result = e2e.run_baseline(server, store, generate(workload, args.n, args.users),
                                                  workers, workdir)
                    results.append(result)
                    print_matrix([result], header=len(results) == 1)
    return results


def run_latency(args: argparse.Namespace, workdir: str) -> list[dict[str, Any]]:
    """The mix at a fixed offered load: latency per update type without a saturated queue."""
    results = []
    warm = args.users * 2  # every user seen before the clock starts: the steady state
    with FakeApiProcess(cwd=e2e.ROOT) as server:
        for rate in _csv(args.latency_rates, float):
            n = min(args.n, int(rate * 30))  # about 30 s of traffic
            for backend in _csv(args.backends):
                with storage(backend, workdir) as store:
                    result = e2e.run_plugbot(server, store, generate("mix", n, args.users, first_update_id=warm + 1),
                                             args.latency_workers, workdir, rate=rate, charts=args.charts,
                                             warmup=generate("mix", warm, args.users, seed=98))
                results.append(result)
                print_matrix([result], header=len(results) == 1)
                print_kinds(result)
    return results


def run_processes(args: argparse.Namespace, workdir: str) -> list[dict[str, Any]]:
    """The same workload on PostgreSQL + Redis with 1, 2, 4... worker processes: does it scale out?

    1 is ``run`` as one process (it receives and works); N > 1 is ``run --processes N``'s shape,
    a polling receiver plus N worker processes. Then a pair at a fixed offered load, one process:
    echo, and echo with one chat whose handler takes a second (``benchmarks.workloads.slow_chat``):
    the other chats' reply latency shows whether the slow one holds them back.
    """
    results = []
    with FakeApiProcess(cwd=e2e.ROOT) as server:
        for workload in _csv(args.processes_workloads):
            for processes in _csv(args.processes, int):
                with storage("postgres", workdir) as store:
                    result = e2e.run_plugbot(server, store, generate(workload, args.n, args.users),
                                             args.processes_workers, workdir, processes=processes)
                results.append(result)
                print_processes([result], header=len(results) == 1)
        n = min(args.n, int(args.slow_rate * 30))  # about 30 s of traffic
        for workload in ("echo", "slow_chat"):
            with storage("postgres", workdir) as store:
                result = e2e.run_plugbot(server, store, generate(workload, n, args.users),
                                         args.processes_workers, workdir, rate=args.slow_rate)
            results.append(result)
            print_processes([result], header=not results[:-1])
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sections = _csv(args.only)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}; use {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    print(f"# plugbot benchmarks {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, N={args.n}, users={args.users}")
    print(f"# command: python -m benchmarks {' '.join(argv if argv is not None else sys.argv[1:])}\n")
    everything: dict[str, Any] = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="plugbot-bench-") as workdir:
        if "matrix" in sections:
            print("## matrix")
            everything["matrix"] = run_matrix(args, workdir)
            for result in everything["matrix"]:
                if result.get("workload") == "mix" and result.get("kinds"):
                    print_kinds(result)
        if "baseline" in sections:
            print("\n## baseline (plain pyTelegramBotAPI, end to end)")
            everything["baseline"] = run_baselines(args, workdir)
            print_baseline(everything.get("matrix", []), everything["baseline"])
        if "latency" in sections:
            print(f"\n## latency at fixed offered loads ({args.latency_rates} updates/s), caches warm")
            everything["latency"] = run_latency(args, workdir)
        if "scale" in sections:
            sizes = _csv(args.scale, int) + ([1_000_000] if args.scale_1m else [])
            print(f"\n## scale: {args.scale_users} users, stored expenses {sizes}")
            everything["scale"] = scale.run(sizes, users=args.scale_users, n=args.scale_n, workdir=workdir,
                                            inproc=_inproc)
            print_scale(everything["scale"])
        if "processes" in sections:
            print(f"\n## processes: PostgreSQL + Redis, {args.processes_workers} threads per worker process")
            everything["processes"] = run_processes(args, workdir)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(everything, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
