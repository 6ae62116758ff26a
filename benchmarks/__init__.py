"""End-to-end and in-process benchmarks of plugbot (issue 5).

Run ``python -m benchmarks --help``. The pieces are small modules so the
reliability suite (``tests/reliability``) can reuse them:

* :mod:`benchmarks.fakeapi`   a fake Bot API server (own process) with fault injection
* :mod:`benchmarks.workloads` pre-generated update streams (echo, quick-add, mix)
* :mod:`benchmarks.instrument` SQL / Redis / latency / RSS counters
* :mod:`benchmarks.runner`    the plugbot bot process (polling) with those counters
* :mod:`benchmarks.baseline`  the same bot on plain pyTelegramBotAPI, no framework
* :mod:`benchmarks.inproc`    the pipeline fed directly, no HTTP
* :mod:`benchmarks.scale`     pre-populated databases (10^4 … 10^6 expenses)

Benchmarks print numbers; they never assert times.
"""
