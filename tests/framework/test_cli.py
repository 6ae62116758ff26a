"""framework/cli.py as an operator meets it: ``python -m framework check-config | plugins |
migrate | run`` in a real subprocess (exit codes, one line per problem, never a traceback)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import plugins_for_tests
import pytest

import framework.builtins
from framework import cli
from framework.config import ENV_OVERRIDES

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"
PYTHON = "/work/venv/bin/python" if os.path.exists("/work/venv/bin/python") else sys.executable
HELLO_YAML = "  hello:\n    module: plugbot_hello\n"

CORE = sorted(p.stem for p in (Path(framework.builtins.__file__).parent / "migrations").glob("0*.py"))


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(HERE))
    for var in ENV_OVERRIDES:
        monkeypatch.delenv(var, raising=False)
    plugins_for_tests.reset()


def plugbot(tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """Run ``python -m framework ARGS`` in ``tmp_path``, the way an operator would."""
    environ = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1]), str(EXAMPLES), str(HERE)])  # this checkout
    environ.update(env or {})
    return subprocess.run([PYTHON, "-m", "framework", *args], cwd=tmp_path, input=stdin, env=environ,
                          capture_output=True, text=True, timeout=120)


def config_file(tmp_path: Path, body: str, name: str = "config.yaml") -> str:
    path = tmp_path / name
    path.write_text(f"database:\n  url: sqlite:///{tmp_path}/bot.db\n{body}", encoding="utf-8")
    return str(path)


# -- check-config ---------------------------------------------------------------------------------


def test_check_config_ok(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}")
    result = plugbot(tmp_path, "check-config", "--config", path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"config: {path}\nconfig OK\n", "")


def test_the_shipped_config_is_valid_and_enables_every_plugin_in_plugins(tmp_path: Path) -> None:
    import yaml

    shipped = HERE.parents[1] / "config.yaml"
    result = plugbot(tmp_path, "check-config", "--config", str(shipped))
    assert (result.returncode, result.stdout, result.stderr) == (0, f"config: {shipped}\nconfig OK\n", "")
    enabled = {name for name, section in yaml.safe_load(shipped.read_text(encoding="utf-8"))["plugins"].items()
               if (section or {}).get("enabled", True)}
    packages = {p.parent.name for p in (HERE.parents[1] / "plugins").glob("*/__init__.py")}
    assert packages and packages <= enabled


def test_check_config_finds_config_yaml_in_the_working_directory(tmp_path: Path) -> None:
    config_file(tmp_path, "workers: lots\n")
    result = plugbot(tmp_path, "check-config")
    assert result.returncode == 2
    assert result.stderr == "config error: workers: expected an integer, got 'lots'\n"


def test_check_config_reports_each_core_error_on_one_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, "colour: blue\nworkers: lots\ntelegram:\n  mode: pigeon\n"
                                 "  token: ${MISSING_TOKEN}\n")
    result = plugbot(tmp_path, "--config", path, "check-config")
    assert result.returncode == 2
    assert result.stdout == f"config: {path}\n"
    assert sorted(result.stderr.splitlines()) == [
        "config error: colour: unknown setting",
        "config error: telegram.mode: must be one of polling, webhook, got 'pigeon'",
        "config error: telegram.token: environment variable MISSING_TOKEN is not set "
        "(use ${MISSING_TOKEN:-default})",
        "config error: workers: expected an integer, got 'lots'",
    ]
    assert "Traceback" not in result.stderr


def test_check_config_reports_each_plugin_error_on_one_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, "plugins:\n  hello:\n    module: plugbot_hello\n    morning_hour: 25\n"
                                 "    colour: blue\n  ghost:\n    module: no_such_package\n"
                                 "  needs_key:\n    module: plugins_for_tests.needs_key\n")
    result = plugbot(tmp_path, "check-config", "--config", path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 4
    assert "config error: plugins.hello.morning_hour: must be between 0 and 23" in lines
    assert "config error: plugins.hello.colour: unknown setting" in lines
    assert "config error: plugins.needs_key.api_key: required setting missing" in lines
    assert any(line.startswith("config error: plugins.ghost: cannot import 'no_such_package'") for line in lines)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("plugin", "problem"), [
    ("misspelt", "misspelt.py: unknown hook plugbot_register_handler (did you mean plugbot_register_handlers?)"),
    ("hookless", "hookless.py defines no plugbot hook: wrong module path or a folder shadowing the package?"),
    ("old_api", "written for plugbot API >=1.0,<2.0, this is 2.0 (text handlers now handle by default"),
])
def test_check_config_refuses_a_plugin_that_would_load_doing_nothing(tmp_path: Path, plugin: str,
                                                                    problem: str) -> None:
    path = config_file(tmp_path, f"plugins:\n  {plugin}:\n    module: plugins_for_tests.{plugin}\n")
    result = plugbot(tmp_path, "check-config", "--config", path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"config error: plugins.{plugin}: ")
    assert problem in line
    if plugin != "old_api":
        assert str(HERE / "plugins_for_tests") in line  # the file, so the operator knows where to look


def test_check_config_reports_a_bad_database_url(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("database:\n  url: 'sqlite://'\n")
    result = plugbot(tmp_path, "check-config", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("config error: database.url: sqlite URL needs a path")
    assert len(result.stderr.splitlines()) == 1


def test_environment_wins_over_the_file_for_check_config(tmp_path: Path) -> None:
    path = config_file(tmp_path, "admins: [1]\n")
    result = plugbot(tmp_path, "check-config", "--config", path, env={"BOT_ADMIN_IDS": "one"})
    assert result.returncode == 2
    assert result.stderr == "config error: admins: expected Telegram user ids (integers), got 'one'\n"


# -- plugins -------------------------------------------------------------------------------------------


def test_plugins_lists_status_version_schema_commands_models_jobs_and_errors(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}  broken:\n    module: plugins_for_tests.broken_import\n"
                                 "  alpha:\n    enabled: false\n")
    result = plugbot(tmp_path, "plugins", "--config", path)
    assert result.returncode == 0, result.stderr
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in _blocks(result.stdout)}
    assert result.stdout.splitlines()[0] == (
        "bot: no bot process has run on this database yet; plugin states are the configured ones")
    assert blocks["hello 1.0.0 [enabled]"] == [
        "  schema:   none applied (1 pending: 0001_initial)",
        "  commands: /hello, /nickname, /morning",
        "  models:   hello_greetings",
        "  jobs:     hello.morning",
        "    hello.morning: never run",
    ]
    assert blocks["broken - [failed]"][-1] == (
        "  last error: import failed: RuntimeError: broken_import cannot start: missing API credentials")
    assert "alpha - [disabled]" in blocks
    assert "core 1.0.0 [enabled] (built-in)" in blocks
    assert "  jobs:     datarights.retention" in blocks["datarights 1.0.0 [enabled] (built-in)"]

    assert plugbot(tmp_path, "migrate", "--config", path).returncode == 0
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in
              _blocks(plugbot(tmp_path, "plugins", "--config", path).stdout)}
    assert blocks["hello 1.0.0 [enabled]"][0] == "  schema:   0001_initial (1 applied)"
    assert blocks["core 1.0.0 [enabled] (built-in)"][0] == f"  schema:   {CORE[-1]} ({len(CORE)} applied)"


def _blocks(text: str) -> list[str]:
    blocks: list[str] = []
    for line in text.splitlines():
        if line.startswith("  ") and blocks:
            blocks[-1] += "\n" + line
        else:
            blocks.append(line)
    return blocks


def test_plugins_shows_each_jobs_last_run_duration_outcome_and_counts(bot_factory, tmp_path: Path) -> None:
    """The bot's job statistics reach ``plugbot plugins``, a process of its own, through the database."""
    path = config_file(tmp_path, "plugins:\n  probe:\n    module: plugins_for_tests.probe\n")
    bot = bot_factory({"probe": {"module": "plugins_for_tests.probe"}}, db_url=f"sqlite:///{tmp_path}/bot.db")
    bot.run_job("probe.tick")
    bot.run_job("probe.explode")
    bot.run_job("probe.explode")
    stats = bot.app.scheduler.job_stats()

    def ran(job_id: str, outcome: str) -> str:
        job = stats[job_id]
        return (f"    {job_id}: last run {job.last_run_at:%Y-%m-%d %H:%M:%S} UTC, {job.last_duration_s:.3f} s, "
                f"{outcome}; runs {job.runs}, failures {job.failures}")

    result = plugbot(tmp_path, "plugins", "--config", path)
    assert result.returncode == 0, result.stderr
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in _blocks(result.stdout)}
    assert blocks["probe 0.1.0 [enabled]"][3:] == [
        "  jobs:     probe.explode, probe.tick",
        ran("probe.explode", "error"),
        "      last job error: RuntimeError: kaboom",
        ran("probe.tick", "ok"),
    ]
    assert ran("probe.explode", "error").endswith("runs 2, failures 2")
    assert "    maintenance.audit_retention: never run" in blocks["maintenance 1.0.0 [enabled] (built-in)"]


def plugins_listing(path: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, list[str]]]:
    """``plugbot plugins`` run by the operator beside the bot: another process, as one application
    is live per process (the test's bot is)."""
    result = plugbot(Path(path).parent, "--config", path, "plugins")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    return out.splitlines()[0], {block.splitlines()[0]: block.splitlines()[1:] for block in _blocks(out)}


def test_plugins_shows_the_running_bots_live_state_and_says_when_it_stopped(bot_factory, tmp_path: Path,
                                                                            capsys) -> None:
    from framework.heartbeat import Heartbeat

    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}  flaky:\n    module: plugins_for_tests.flaky\n")
    bot = bot_factory({"hello": {"module": "plugbot_hello"}, "flaky": {"module": "plugins_for_tests.flaky"}},
                      db_url=f"sqlite:///{tmp_path}/bot.db")
    heartbeat = Heartbeat(bot.app, "polling")
    heartbeat.beat()  # what `run` does every few seconds
    for user in (1, 2, 3):
        bot.user(user).send("/boom")  # three users' failures: the circuit breaker pauses flaky
    heartbeat.beat()
    header, blocks = plugins_listing(path, capsys)
    assert header.startswith(f"bot: running (polling, pid {os.getpid()} on ")
    assert "; plugin states as of " in header
    assert "flaky 0.3.0 [paused]" in blocks
    assert blocks["flaky 0.3.0 [paused]"][-1] == "  last error: ValueError: the flaky plugin broke"
    assert "hello 1.0.0 [enabled]" in blocks

    bot.app.plugins.plugins["flaky"].paused_until = 0.0  # the pause ran out: the bot resumes it...
    heartbeat.beat()  # ...and its next heartbeat says so
    _, blocks = plugins_listing(path, capsys)
    assert "flaky 0.3.0 [enabled]" in blocks

    for user in (1, 2, 3):
        bot.user(user).send("/boom")
    heartbeat.stop()  # a clean stop, paused as it was
    header, blocks = plugins_listing(path, capsys)
    assert header.startswith("bot: not running (polling, pid ")
    assert "flaky 0.3.0 [enabled]" in blocks  # what a start would give: pauses live in the process
    assert blocks["flaky 0.3.0 [enabled]"][0] == "  when the bot stopped: paused"


def test_plugins_fails_in_one_line_when_it_cannot_read_the_state(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("database:\n  url: postgresql://postgres@127.0.0.1:1/plugbot\n")
    result = plugbot(tmp_path, "plugins", "--config", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "plugins: cannot read the database: connection refused\n"


# -- migrate -------------------------------------------------------------------------------------------


def test_migrate_needs_no_token_and_is_idempotent(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}")
    first = plugbot(tmp_path, "migrate", "--config", path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [*(f"applied core: {name}" for name in CORE), "applied hello: 0001_initial",
                                         f"{len(CORE) + 1} migration(s) applied"]
    second = plugbot(tmp_path, "migrate", "--config", path)
    assert (second.returncode, second.stdout) == (0, "nothing to do: the database is up to date\n")
    listing = plugbot(tmp_path, "migrate", "--list", "--config", path)
    assert [line.split()[:3] for line in listing.stdout.splitlines()] == [
        *(["[x]", "core", name] for name in CORE), ["[x]", "hello", "0001_initial"]]


# -- run without a token -------------------------------------------------------------------------------


def test_run_without_token_says_so_and_serves_the_console_until_eof(tmp_path: Path) -> None:
    path = config_file(tmp_path, "telegram:\n  token: ${TELEGRAM_BOT_TOKEN:-}\n"
                                 f"plugins:\n{HELLO_YAML}")
    result = plugbot(tmp_path, "run", "--config", path, stdin="/hello\n/help\n", env={"TELEGRAM_BOT_TOKEN": ""})
    assert result.returncode == 0, result.stderr
    assert result.stderr == "no telegram.token (TELEGRAM_BOT_TOKEN) set: starting console mode\n"
    out = result.stdout
    assert out.startswith("plugbot console:")
    assert "👋 Hello, Console! That's greeting #1." in out
    assert "/nickname — choose how I call you" in out
    assert "/morning — good-morning messages on|off" in out


NO_TOKEN = ("run: telegram.token: TELEGRAM_BOT_TOKEN is not set, and there is no terminal or input for console "
            "mode; set it to run the bot\n")


def test_run_without_token_in_a_container_exits_2_instead_of_quietly_stopping(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"telegram:\n  token: ${{TELEGRAM_BOT_TOKEN:-}}\nplugins:\n{HELLO_YAML}")
    environ = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1]), str(EXAMPLES), str(HERE)])
    for stdin, given in ((subprocess.DEVNULL, None), (None, "")):   # /dev/null; a pipe that brings nothing
        result = subprocess.run([PYTHON, "-m", "framework", "run", "--config", path], cwd=tmp_path, env=environ,
                                stdin=stdin, input=given, capture_output=True, text=True, timeout=120)
        assert (result.returncode, result.stderr.splitlines()[-1] + "\n") == (2, NO_TOKEN), result.stderr
        if given is None:
            assert (result.stdout, result.stderr) == ("", NO_TOKEN)   # one line, no console opened


def test_without_a_config_file_a_command_says_so_unless_one_is_named(tmp_path: Path) -> None:
    result = plugbot(tmp_path, "check-config")
    assert result.returncode == 2
    assert result.stderr == (f"config error: no config file: there is no config.yaml in {tmp_path}; "
                             "name one with --config PATH or PLUGBOT_CONFIG\n")
    (tmp_path / "etc").mkdir()
    named = config_file(tmp_path / "etc", f"plugins:\n{HELLO_YAML}")
    result = plugbot(tmp_path, "check-config", env={"PLUGBOT_CONFIG": named})
    assert (result.returncode, result.stdout) == (0, f"config: {named}\nconfig OK\n")
    assert plugbot(tmp_path, "migrate").returncode == 2            # no command starts on an empty config


@pytest.mark.parametrize(("plugin", "problem"), [
    ("needs_key", "plugins.needs_key.api_key: required setting missing"),
    ("shadow_help", "command /help of plugin 'shadow_help' clashes with the built-in /help of 'core'; "
                    "pass override=True to replace it"),
])
def test_run_with_a_broken_config_starts_nothing(tmp_path: Path, monkeypatch, capsys, plugin: str,
                                                 problem: str) -> None:
    path = config_file(tmp_path, f"plugins:\n  {plugin}:\n    module: plugins_for_tests.{plugin}\n")
    monkeypatch.setattr(cli, "_logging", lambda config: None)
    monkeypatch.setattr("sys.stdin", io.StringIO("/help\n"))
    assert cli.main(["--config", path, "run"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == f"config error: {problem}"
    assert captured.out == ""  # no console was opened
    assert not (tmp_path / "bot.db").exists()


def test_run_with_a_malformed_token_is_a_config_error(tmp_path: Path) -> None:
    path = config_file(tmp_path, "")
    result = plugbot(tmp_path, "run", "--config", path, env={"TELEGRAM_BOT_TOKEN": "not a token"})
    assert result.returncode == 2
    assert result.stderr == ("config error: telegram.token: not a bot token "
                             "(expected the <id>:<secret> that @BotFather gave)\n")
    assert "not a token" not in result.stderr  # a secret is never echoed


# -- webhook set -----------------------------------------------------------------------------------------


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> object:
    root = HERE.parents[1]
    monkeypatch.syspath_prepend(str(root))
    from benchmarks.fakeapi import FakeApiProcess

    with FakeApiProcess(cwd=str(root)) as server:
        yield server


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_webhook_set_refuses_without_a_secret_in_every_mode(tmp_path: Path, fake_api, mode: str) -> None:
    path = config_file(tmp_path, f"telegram:\n  token: '123:abc'\n  api_url: {fake_api.url}\n  mode: {mode}\n"
                                 "  webhook:\n    url: https://bot.example/webhook\n")
    result = plugbot(tmp_path, "webhook", "set", "--config", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("config error: telegram.webhook.secret_token: required")
    assert "setWebhook" not in fake_api.stats()["requests"]  # nothing reached Telegram


def test_webhook_set_registers_the_url_with_its_secret(tmp_path: Path, fake_api) -> None:
    path = config_file(tmp_path, f"telegram:\n  token: '123:abc'\n  api_url: {fake_api.url}\n"
                                 "  webhook:\n    url: https://bot.example/webhook\n")
    result = plugbot(tmp_path, "webhook", "set", "--config", path, env={"TELEGRAM_WEBHOOK_SECRET": "s3cret-value"})
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, "webhook set to https://bot.example/webhook"), \
        result.stderr
    assert fake_api.stats()["requests"]["setWebhook"] == 1
    assert "s3cret-value" not in result.stdout + result.stderr


def test_run_in_polling_mode_serves_metrics_on_its_port_and_stops_on_sigterm(tmp_path: Path, fake_api) -> None:
    import signal
    import socket
    import urllib.request

    from framework.testing import eventually

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = config_file(tmp_path, f"telegram:\n  token: '123:abcdef'\n  api_url: {fake_api.url}\n"
                                 f"  polling: {{timeout: 1}}\nmetrics:\n  port: {port}\n")
    environ = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1]), str(EXAMPLES), str(HERE)])
    process = subprocess.Popen([PYTHON, "-m", "framework", "run", "--config", path], cwd=tmp_path, env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    scraped: list[str] = []

    def scrape() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                scraped.append(response.read().decode())
        except OSError:
            return False
        return True

    try:
        assert eventually(scrape, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "plugbot_telegram_requests_total{method=\"get_me\"} 1.0" in scraped[0]
    assert "plugbot_queue_depth 0.0" in scraped[0]


# -- every malformed setup: one line, exit 2, never a traceback --------------------------------------------

ALL = ("check-config", "run", "migrate", "health", "webhook set", "backup")
APP = ("check-config", "run", "migrate", "webhook set")  # the commands that load the plugins
TELEGRAM = ("telegram:\n  token: '123456:AAHsetup-token'\n  api_url: http://127.0.0.1:1\n"
            "  webhook:\n    url: https://bot.example/hook\n    secret_token: setup-secret\n"
            "sender:\n  max_retries: 0\n")


def plugin(name: str) -> str:
    return f"plugins:\n  {name}:\n    module: plugins_for_tests.{name}\n"


SETUPS = {  # name: (config body after the database section, commands, what the one line says)
    "telegram: 5": ("telegram: 5\n", ALL, "config error: telegram: expected a mapping, got 5"),
    "not UTF-8": (b"# \xff\xfe\n", ALL, "not UTF-8 text (byte 0xff at offset"),
    "a directory": (None, ALL, "is a directory, not a config file"),
    "plugin info raises": (TELEGRAM + plugin("info_raises"), APP,
                           "info_raises.py: plugbot_plugin_info raised RuntimeError: info is not ready"),
    "config defaults raise": (TELEGRAM + plugin("defaults_raise"), APP,
                              "defaults_raise.py: plugbot_config_defaults raised KeyError: 'colour'"),
    "api_version not a string": (TELEGRAM + plugin("float_api"), APP,
                                 "float_api.py: api_version must be a version range string like '>=2.0,<3.0', "
                                 "got 2.0"),
    "database URL scheme": (TELEGRAM + "database:\n  url: mysql://u:pw@h/db\n", ALL,
                            "config error: database.url: unsupported database URL scheme 'mysql'"),
    "database URL port": (TELEGRAM + "database:\n  url: postgresql://u:pw@127.0.0.1:abc/db\n", ALL,
                          "config error: database.url: bad port in the database URL"),
    "SQLite folder cannot be made": (TELEGRAM + "database:\n  url: sqlite:///{tmp}/a-file/bot.db\n", ALL,
                                     "config error: database.url: cannot create the folder {tmp}/a-file: "),
    "database unreachable": (TELEGRAM + "database:\n  url: postgresql://postgres@127.0.0.1:1/x\n",
                             ("check-config", "run", "migrate"),
                             "database.url: cannot use the database: connection refused"),
    "Redis URL scheme": (TELEGRAM + "redis:\n  url: http://redis\n", APP + ("health",),
                         "config error: redis.url: Redis URL must specify one of the following schemes"),
    "Redis URL port": (TELEGRAM + "redis:\n  url: redis://127.0.0.1:abc/0\n", APP + ("health",),
                       "config error: redis.url: Port could not be cast to integer value as 'abc'"),
    "Redis unreachable": (TELEGRAM + "redis:\n  url: redis://127.0.0.1:1/0\n", ("check-config",),
                          "config error: redis.url: cannot reach Redis: connection refused"),
    "Bot API unreachable": (TELEGRAM, ("run", "webhook set"),
                            "telegram.api_url: cannot reach the Bot API: connection refused"),
    "a command of two plugins": (TELEGRAM + f"plugins:\n{HELLO_YAML}  copycat:\n"
                                            "    module: plugins_for_tests.copycat\n", APP,
                                 "config error: command /hello registered by both 'hello' and 'copycat'"),
    "an invalid command name": (TELEGRAM + plugin("bad_command"), APP,
                                "config error: bad_command: command 'do-it' must be 1-32 of a-z, 0-9, _"),
}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_every_malformed_setup_is_one_line_and_exit_2_in_every_command(tmp_path: Path, monkeypatch, capsys,
                                                                      setup: str) -> None:
    body, commands, expected = SETUPS[setup]
    if body is None:
        path = tmp_path / "config-dir"
        path.mkdir()
    else:
        path = tmp_path / "config.yaml"
        head = f"database:\n  url: sqlite:///{tmp_path}/bot.db\n"
        if isinstance(body, bytes):
            path.write_bytes(head.encode() + body)
        elif "database:" in body:
            (tmp_path / "a-file").write_text("in the way")
            path.write_text(body.replace("{tmp}", str(tmp_path)))
        else:
            path.write_text(head + body)
    monkeypatch.setattr(cli, "_logging", lambda config: None)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        capsys.readouterr()
        assert cli.main(["--config", str(path), *command.split()]) == 2, command
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, (command, err)
        assert expected.replace("{tmp}", str(tmp_path)) in err, (command, err)
        assert "123456:AAHsetup-token" not in err and "AAHsetup-token" not in err and "setup-secret" not in err


def test_check_config_reports_every_problem_of_plugins_database_and_redis_at_once(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}  copycat:\n    module: plugins_for_tests.copycat\n"
                                 "  bad_command:\n    module: plugins_for_tests.bad_command\n"
                                 "redis:\n  url: redis://127.0.0.1:1/0\n")
    text = Path(path).read_text().replace(f"sqlite:///{tmp_path}/bot.db", "postgresql://postgres@127.0.0.1:1/x")
    Path(path).write_text(text)
    result = plugbot(tmp_path, "check-config", "--config", path)
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        "config error: bad_command: command 'do-it' must be 1-32 of a-z, 0-9, _",
        "config error: command /hello registered by both 'hello' and 'copycat'",
        "config error: database.url: cannot use the database: connection refused",
        "config error: redis.url: cannot reach Redis: connection refused",
    ]


def test_check_config_reaches_a_working_database_and_redis_and_creates_nothing(tmp_path: Path, postgres_url: str,
                                                                               redis_url: str) -> None:
    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}redis:\n  url: {redis_url}\n")
    assert plugbot(tmp_path, "check-config", "--config", path).stdout == f"config: {path}\nconfig OK\n"
    assert not (tmp_path / "bot.db").exists()  # SQLite: the folder is writable, the file is made by run
    Path(path).write_text(Path(path).read_text().replace(f"sqlite:///{tmp_path}/bot.db", postgres_url))
    result = plugbot(tmp_path, "check-config", "--config", path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"config: {path}\nconfig OK\n", "")


def test_run_in_webhook_mode_on_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path, fake_api) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = config_file(tmp_path, f"telegram:\n  token: '123:abcdef'\n  api_url: {fake_api.url}\n  mode: webhook\n"
                                     f"  webhook:\n    secret_token: s3cret-value\n    listen: 127.0.0.1\n"
                                     f"    port: {port}\n")
        result = plugbot(tmp_path, "run", "--config", path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (f"config error: telegram.webhook.port: cannot listen on 127.0.0.1:{port}: "
                                              "address already in use")
    assert "Traceback" not in result.stderr


def test_run_in_webhook_mode_checks_telegram_before_starting_gunicorn(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = config_file(tmp_path, "telegram:\n  token: '123:abcdef'\n  api_url: http://127.0.0.1:1\n  mode: webhook\n"
                                 f"  webhook:\n    secret_token: s3cret-value\n    listen: 127.0.0.1\n    port: {port}\n")
    result = plugbot(tmp_path, "run", "--config", path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "run: telegram.api_url: cannot reach the Bot API: connection refused"
    assert "starting gunicorn" not in result.stderr


def test_check_config_warns_about_a_plugin_run_would_skip(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}  broken:\n    module: plugins_for_tests.broken_import\n")
    result = plugbot(tmp_path, "check-config", "--config", path)
    assert (result.returncode, result.stdout) == (0, f"config: {path}\nconfig OK\n")
    assert result.stderr == ("warning: plugins.broken: import failed: RuntimeError: broken_import cannot start: "
                             "missing API credentials; `run` skips it\n")


def test_check_config_reports_a_bad_token_a_bad_database_and_a_bad_redis_in_one_pass(tmp_path: Path) -> None:
    path = config_file(tmp_path, "")
    result = plugbot(tmp_path, "check-config", "--config", path,
                     env={"TELEGRAM_BOT_TOKEN": "123", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x",
                          "REDIS_URL": "foo://bar"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "config error: telegram.token: not a bot token (expected the <id>:<secret> that @BotFather gave)",
        "config error: database.url: cannot use the database: connection refused",
        "config error: redis.url: Redis URL must specify one of the following schemes (redis://, rediss://, unix://)",
    ]


# -- processes ------------------------------------------------------------------------------------


def test_several_processes_on_sqlite_are_refused_in_one_line(tmp_path: Path) -> None:
    token = "telegram:\n  token: '123:abc'\n"
    for args, body in ((("run", "--processes", "3"), token), (("run",), token + "processes: 2\n"),
                       (("worker",), token)):
        path = config_file(tmp_path, body)
        result = plugbot(tmp_path, *args, "--config", path)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "SQLite" in lines[0] and "PostgreSQL" in lines[0], (args, lines)
        assert "Traceback" not in result.stderr


def test_processes_starting_together_on_a_new_postgres_database_migrate_one_after_the_other(
        tmp_path: Path, postgres_url: str) -> None:
    """`run --processes`, gunicorn's workers, a worker on another machine: several processes may
    migrate the same new database at once; the advisory lock makes the later ones find nothing to do."""
    import psycopg2

    path = config_file(tmp_path, f"plugins:\n{HELLO_YAML}")
    Path(path).write_text(Path(path).read_text().replace(f"sqlite:///{tmp_path}/bot.db", postgres_url))
    environ = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1]), str(EXAMPLES), str(HERE)])
    processes = [subprocess.Popen([PYTHON, "-m", "framework", "migrate", "--config", path], cwd=tmp_path, env=environ,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    conn = psycopg2.connect(postgres_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name FROM schema_version WHERE plugin = 'core' ORDER BY name")
            assert [row[0] for row in cur.fetchall()] == CORE
    finally:
        conn.close()
