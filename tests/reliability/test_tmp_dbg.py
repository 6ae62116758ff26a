import logging, time
from test_redis_outage import run_outage, _answers
from reliability_helpers import RedisServer
def test_dbg(bot_factory, caplog):
    caplog.set_level(logging.WARNING)
    server = RedisServer(); server.start()
    bot = bot_factory(plugins={"expenses": {"charts": False}}, config={"redis": {"url": server.url, "prefix": "reliability:"}, "ratelimit": {"messages_per_minute": 1_000_000}})
    users = [bot.user(7000 + i, first_name=f"R{i}") for i in range(5)]
    t = time.time()
    r = run_outage(bot, server, users, (3, 3, 3))
    print("took", time.time() - t, r)
    for u in users[:2]:
        print(u.id, [a[:40] for a in _answers(bot, u.id)])
    from framework.db import connection_scope
    from plugins.expenses.models import Expense
    with connection_scope():
        print(sorted(str(e.amount) for e in Expense.select()))
    server.stop()
