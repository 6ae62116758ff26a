from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator

import pytest
import telebot

from framework.logs import configure_logging, current_context, log_context, redact, register_secret

TOKEN = "987654:AAH-logs-test-secret_token"


@pytest.fixture
def capture() -> Iterator[Callable[[str], io.StringIO]]:
    """Install the plugbot handler on a buffer; restore the root logger afterwards."""
    root = logging.getLogger()
    level = root.level
    telebot_handlers = list(telebot.logger.handlers)
    buffer = io.StringIO()
    holder: dict[str, logging.Handler] = {}

    def install(fmt: str) -> io.StringIO:
        holder["handler"] = configure_logging("DEBUG", fmt, buffer)
        return buffer

    yield install
    root.removeHandler(holder["handler"])
    root.setLevel(level)
    for handler in telebot_handlers:
        telebot.logger.addHandler(handler)


def test_plain_line_carries_context_fields(capture) -> None:
    out = capture("plain")
    with log_context(update_id=5, plugin="x"):
        logging.getLogger("plugbot.test").info("handled %s", "it")
    logging.getLogger("plugbot.test").info("outside")
    first, second = out.getvalue().splitlines()
    assert "INFO plugbot.test: handled it" in first
    assert first.endswith("plugin=x update_id=5")
    assert second.endswith("plugbot.test: outside")


def test_json_line_carries_context_fields(capture) -> None:
    out = capture("json")
    with log_context(update_id=5, plugin="x"), log_context(chat_id=-100, user_id=None):
        logging.getLogger("plugbot.test").warning("slow handler")
    record = json.loads(out.getvalue())
    assert record["msg"] == "slow handler"
    assert record["level"] == "WARNING"
    assert record["logger"] == "plugbot.test"
    assert record["update_id"] == 5 and record["plugin"] == "x" and record["chat_id"] == -100
    assert "user_id" not in record  # None values are not recorded
    assert record["ts"].endswith("+00:00")


def test_context_ends_with_the_block_and_stays_in_its_thread() -> None:
    seen: list[dict] = []
    with log_context(job="cleanup"):
        worker = threading.Thread(target=lambda: seen.append(current_context()))
        worker.start()
        worker.join()
        assert current_context() == {"job": "cleanup"}
    assert current_context() == {}
    assert seen == [{}]  # a new thread starts with an empty context


def test_extra_fields_are_picked_up(capture) -> None:
    out = capture("plain")
    logging.getLogger("plugbot.test").info("job ran", extra={"job": "digest"})
    assert out.getvalue().strip().endswith("job=digest")


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_registered_token_never_appears(capture, fmt: str) -> None:
    register_secret(TOKEN)
    out = capture(fmt)
    log = logging.getLogger("plugbot.test")
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    try:
        raise ConnectionError(f"Max retries exceeded with url: {url}")
    except ConnectionError:
        log.exception("request to %s failed", url)
    with log_context(handler=f"token is {TOKEN}"):
        log.error("quoted form: %s", TOKEN.replace(":", "%3A"))
    text = out.getvalue()
    assert TOKEN not in text
    assert TOKEN.replace(":", "%3A") not in text
    assert "bot***/sendMessage" in text
    assert "Max retries exceeded" in text  # the exception itself is still there
    if fmt == "json":
        first = json.loads(text.splitlines()[0])
        assert "ConnectionError" in first["exc_info"] and TOKEN not in first["exc_info"]


def test_telebot_records_go_through_the_redacting_handler(capture) -> None:
    register_secret(TOKEN)
    out = capture("plain")
    assert telebot.logger.handlers == []
    telebot.logger.error("bad token %s", TOKEN)
    assert out.getvalue().count("bad token ***") == 1


def test_redact_prefers_the_longest_secret() -> None:
    register_secret("abcd-secret")
    register_secret("abcd-secret-and-more")
    assert redact("x abcd-secret-and-more y abcd-secret") == "x *** y ***"
    register_secret("")  # ignored, does not redact everything
    assert redact("plain") == "plain"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="logging format"):
        configure_logging(fmt="xml")


def test_every_line_written_while_handling_an_update_carries_its_context(capture, bot_factory) -> None:
    import json

    bot = bot_factory({"flaky": {"module": "plugins_for_tests.flaky"}})
    out = capture("json")
    user = bot.user(4242)
    user.send("/boom")
    user.send("/fine")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) >= 2  # the failure and its circuit-breaker count, at least
    assert all(line.get("user_id") == 4242 and line.get("chat_id") == 4242 and "update_id" in line
               for line in lines), lines
    failure = next(line for line in lines if line["level"] == "ERROR")
    assert (failure["plugin"], failure["handler"]) == ("flaky", "boom")
