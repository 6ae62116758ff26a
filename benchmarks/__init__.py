"""End-to-end and in-process benchmarks of plugbot; results in docs/performance.md.

Run ``python -m benchmarks --help``. The pieces are small modules so the
reliability suite (``tests/reliability``) can reuse them:

* :mod:`benchmarks.fakeapi`     a fake Bot API server (own process) with fault injection
* :mod:`benchmarks.workloads`   pre-generated update streams (echo, quick-add, mix, /stats)
* :mod:`benchmarks.echo_plugin` the trivial plugin of the echo workload
* :mod:`benchmarks.instrument`  SQL / Redis / latency / RSS counters inside a bot process
* :mod:`benchmarks.runner`      the plugbot bot process (polling) with those counters
* :mod:`benchmarks.baseline`    the same bots on plain pyTelegramBotAPI, no framework
* :mod:`benchmarks.inproc`      the pipeline fed directly, replies recorded, no HTTP
* :mod:`benchmarks.e2e`         one end-to-end run: server + bot process
* :mod:`benchmarks.scale`       pre-populated databases (10^4 … 10^6 expenses, 100k users)
* :mod:`benchmarks.services`    throwaway databases, Redis prefixes, bot configs
* :mod:`benchmarks.report`      the markdown tables
* :mod:`benchmarks.profiling`   pyinstrument profile of the per-update cost
* :mod:`benchmarks.sqltrace`    the SQL statements and Redis commands of single updates

Benchmarks print numbers; they never assert times.
"""
