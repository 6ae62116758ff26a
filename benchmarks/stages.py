"""Per-stage CPU of the bot process, from a py-spy profile of ``benchmarks.runner``.

    py-spy record --gil --nonblocking -r 400 -f raw -o profile.txt -p <pid of benchmarks.runner>
    python -m benchmarks.stages profile.txt --cpu-ms 3.2     # CPU ms/update from the same run

``--gil`` keeps only the samples of the thread holding the GIL, i.e. where the process's Python
CPU went (a thread waiting for the GIL or for I/O is not counted). Each sample is put in the
pipeline stage its stack is in (the deepest stage frame wins) and, inside it, split into SQL
statements built by peewee, SQL executed by the driver, and the rest. Shares of samples times
the CPU per update the benchmark measured give microseconds per update.
"""
from __future__ import annotations

import argparse
import collections
import sys

# (stage, substrings of a frame that put a sample in it), checked for every frame from the
# root to the leaf: the last stage found wins, so a stage nested in another (the claim inside
# the begin of the transaction) takes its samples.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("receive (getUpdates, poller)", ("transports/polling.py",)),
    ("queue (store, take, delete)", ("update_queue.py", "Pipeline._dequeue", "Pipeline._begin")),
    ("parse", ("Pipeline._parse", "origin (framework/origin.py")),
    ("claim", ("Pipeline._claim",)),
    ("user", ("framework/users.py",)),
    ("access", ("framework/access.py",)),
    ("rate limit", ("framework/ratelimit.py",)),
    ("session", ("framework/sessions.py",)),
    ("handler", ("plugins/", "benchmarks/echo_plugin.py")),
    ("audit", ("framework/audit.py",)),
    ("outbox (store, mark sent)", ("framework/outbox.py",)),
    ("commit", ("_transaction.__exit__", "_atomic.__exit__", "Database.commit")),
    ("reply build (telebot)", ("apihelper.py", "TeleBot.", "TelebotApi.call", "_convert_markup", "to_json",
                               "to_dict")),
    ("reply parse (types.Message)", ("Message.de_json", "_SentMessage")),
    ("HTTP (requests/urllib3/sockets)", ("requests/", "urllib3/", "http/client.py", "socket.py", "ssl.py",
                                         "_Http.request", "_Answer")),
    ("logging", ("logging/__init__.py", "framework/logs.py")),
]


def stage_of(frames: list[str]) -> str:
    found = "other"
    for frame in frames:
        for stage, marks in STAGES:
            if any(mark in frame for mark in marks):
                found = stage
    return found


def kind_of(frames: list[str]) -> str:
    if any("execute_sql" in f or "_execute_cursor" in f for f in frames):
        return "SQL execute"
    if frames and "peewee.py" in frames[-1] or any("Query.sql" in f or "Context.sql" in f for f in frames[-4:]):
        return "SQL build"
    return "Python"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile")
    parser.add_argument("--cpu-ms", type=float, required=True, help="CPU ms per update measured in the same run")
    args = parser.parse_args(argv)
    stages: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[tuple[str, str]] = collections.Counter()
    total = 0
    with open(args.profile, encoding="utf-8") as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            frames = [f for f in stack.split(";") if f]
            n = int(count)
            total += n
            stage = stage_of(frames)
            stages[stage] += n
            kinds[stage, kind_of(frames)] += n
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    per_sample = args.cpu_ms * 1000 / total
    print(f"{total} samples; {args.cpu_ms} ms CPU/update\n")
    print("| stage | µs/update | share | of which SQL build µs | SQL execute µs |")
    print("|---|---|---|---|---|")
    for stage, n in stages.most_common():
        print(f"| {stage} | {n * per_sample:.0f} | {100 * n / total:.1f} % | {kinds[stage, 'SQL build'] * per_sample:.0f} "
              f"| {kinds[stage, 'SQL execute'] * per_sample:.0f} |")
    build = sum(v for (s, k), v in kinds.items() if k == "SQL build")
    execute = sum(v for (s, k), v in kinds.items() if k == "SQL execute")
    print(f"| **all SQL build** | {build * per_sample:.0f} | {100 * build / total:.1f} % | | |")
    print(f"| **all SQL execute** | {execute * per_sample:.0f} | {100 * execute / total:.1f} % | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
