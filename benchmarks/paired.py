"""Paired end-to-end runs: two source trees of plugbot, alternating round by round in one run.

On a shared 2-core machine one run against another taken minutes later differs by more than most
changes do (docs/performance.md); rounds that alternate ``before`` and ``after`` (the order flips
every round) see the same load, so their difference is the change's.

    git archive <commit> | tar -x -C /tmp/before      # the tree to compare against
    python -m benchmarks.paired --before /tmp/before --rounds 3 --workloads echo,quick_add --n 3000 --users 300

Each round also runs the plain-telebot baseline, so every plugbot number has its ratio from the
same minute. Prints one row per run and the medians per tree.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from typing import Any

from . import e2e
from .fakeapi import FakeApiProcess
from .services import storage
from .workloads import generate


def _row(tree: str, r: dict[str, Any], ratio: float | None) -> str:
    return (f"| {tree} | {r['workload']} | {r['backend']} | {r['updates_per_s']:.0f}"
            f"{'' if r.get('complete', True) else ' (incomplete!)'} | {r.get('cpu_ms_per_update') or 0:.3f} "
            f"| {ratio if ratio is None else f'{ratio:.2f}'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="root of the tree to compare against (has benchmarks/)")
    parser.add_argument("--after", default=e2e.ROOT, help="root of the changed tree (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="echo,quick_add")
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    trees = {"before": args.before, "after": args.after}
    numbers: dict[tuple[str, str], list[tuple[float, float, float | None]]] = {}
    print("| tree | workload | backend | updates/s | CPU ms/update | / baseline |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="plugbot-paired-") as workdir, FakeApiProcess(cwd=e2e.ROOT) as server:
        for round_no in range(args.rounds):
            for workload in args.workloads.split(","):
                base = None
                if not args.no_baseline:
                    with storage(args.backend, workdir) as store:
                        base = e2e.run_baseline(server, store, generate(workload, args.n, args.users), args.workers,
                                                workdir)
                    print(_row("baseline", base, None), flush=True)
                order = ["before", "after"] if round_no % 2 == 0 else ["after", "before"]
                for tree in order:
                    e2e.ROOT = trees[tree]  # the bot process runs from that tree (cwd and PYTHONPATH)
                    try:
                        with storage(args.backend, workdir) as store:
                            r = e2e.run_plugbot(server, store, generate(workload, args.n, args.users), args.workers,
                                                workdir)
                    finally:
                        e2e.ROOT = args.after
                    ratio = r["updates_per_s"] / base["updates_per_s"] if base and base["updates_per_s"] else None
                    numbers.setdefault((tree, workload), []).append(
                        (r["updates_per_s"], r.get("cpu_ms_per_update") or 0.0, ratio))
                    print(_row(tree, r, ratio), flush=True)
    print("\nmedians:")
    print("| tree | workload | updates/s | CPU ms/update | / baseline |")
    print("|---|---|---|---|---|")
    for (tree, workload), runs in sorted(numbers.items(), key=lambda kv: (kv[0][1], kv[0][0] != "before")):
        ratios = [r for _, _, r in runs if r is not None]
        print(f"| {tree} | {workload} | {statistics.median(u for u, _, _ in runs):.0f} "
              f"| {statistics.median(c for _, c, _ in runs):.3f} "
              f"| {statistics.median(ratios) if ratios else float('nan'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
