"""One live application per process: the database binding and telebot's API settings are process-wide,
so a second application built while one is live is refused, and stopping one lets the next live."""
from __future__ import annotations

from typing import Any

import pytest

from framework import ApplicationLiveError, User, connection_scope, create_app, load_config


def _config(tmp_path: Any, name: str, **extra: Any) -> dict[str, Any]:
    return load_config(None, env={}, overrides={"database": {"url": f"sqlite:///{tmp_path}/{name}.db"}, **extra})


def test_a_second_live_application_is_refused_with_the_way_out(bot_factory, tmp_path) -> None:
    bot = bot_factory()
    with pytest.raises(ApplicationLiveError, match=r"another plugbot application is live.*stop\(\)") as raised:
        create_app(_config(tmp_path, "second"))
    assert bot.app.config["database"]["url"].removeprefix("sqlite:///") in str(raised.value)
    # The refused one took nothing: the live bot still answers and writes to its own database.
    bot.user(7).send("/start")
    with connection_scope():
        assert User.select().where(User.telegram_id == 7).count() == 1


@pytest.mark.postgres
def test_the_database_url_in_the_refusal_carries_no_password(bot_factory, tmp_path, postgres_url) -> None:
    scheme, rest = postgres_url.split("://", 1)
    credentials, host = rest.split("@", 1)
    bot = bot_factory(db_url=f"{scheme}://{credentials.split(':')[0]}:s3cret@{host}")  # trust auth ignores it
    with pytest.raises(ApplicationLiveError) as raised:
        create_app(_config(tmp_path, "second"))
    assert "s3cret" not in str(raised.value) and host.split("?")[0].split("/")[-1] in str(raised.value)
    assert bot.app.database_name in str(raised.value)


def test_a_stopped_application_lets_the_next_live_and_works_again_only_when_alone(bot_factory, tmp_path) -> None:
    bot = bot_factory()
    bot.app.stop()
    bot.app.stop()                                  # twice is harmless
    with create_app(_config(tmp_path, "next"), api=bot.telegram) as app:
        app.start(scheduler=False, telegram=False)
        app.process_update({"update_id": 1, "message": {
            "message_id": 1, "date": 0, "text": "/start", "chat": {"id": 8, "type": "private"},
            "from": {"id": 8, "is_bot": False, "first_name": "Eve"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}})
        with connection_scope():
            assert [u.telegram_id for u in User.select()] == [8]
        with pytest.raises(ApplicationLiveError):
            bot.user(7).send("/start")              # the stopped bot may not work while another is live
    # Leaving the block ended its life: the first bot works again, in its own database.
    bot.user(7).send("/start")
    with connection_scope():
        assert [u.telegram_id for u in User.select()] == [7]


def test_an_application_that_fails_to_build_leaves_the_slot_free(tmp_path) -> None:
    with pytest.raises(Exception, match="no_such_plugin_module"):
        create_app(_config(tmp_path, "broken", plugins={"broken": {"module": "no_such_plugin_module"}},
                           strict_plugins=True))
    create_app(_config(tmp_path, "fine")).stop()
