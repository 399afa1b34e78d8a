"""docker-compose.yml, deploy/triage.toml and the Dockerfile kept correct without a Docker engine:
every command is a real entry point, every variable set is one the configuration reads, the
stack's configuration loads, nothing listens beyond loopback, data lives in named volumes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from classifier.text import CACHE_DIR_ENV
from worker.cli import triage
from worker.config import CONFIG_ENV, Config, load_config
from worker.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
DEPLOY_CONFIG = ROOT / "deploy" / "triage.toml"
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
# The services that run this project's image.
OURS = sorted(name for name, service in SERVICES.items() if "build" in service)


def _environment(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {name: str(value) for name, value in environment.items()}


def _variables_read(config: Config) -> set[str]:
    """Every environment variable the worker reads, with this configuration."""
    names = {CONFIG_ENV, CACHE_DIR_ENV, config.database.password_env, config.smtp.password_env,
             config.security.signing_key_env}
    for mailbox in config.mailboxes:
        names |= {mailbox.password_env, mailbox.token_env}
    return names - {""}


def _secrets_required(config: Config) -> set[str]:
    """Variables that must be set, or the worker stops at start-up naming the key."""
    names = {config.database.password_env, config.smtp.password_env}
    names |= {mailbox.password_env for mailbox in config.mailboxes if mailbox.auth == "password"}
    return names - {""}


def _parse_triage(words: list[str]) -> click.Command:
    """Parses a `triage …` command line as click would, without running it; the leaf command."""
    command: click.Command = triage
    path = []
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        name, *words = words
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"`triage {' '.join([*path, name])}` is not a command"
        command, path = sub, [*path, name]
    command.make_context(" ".join(["triage", *path]), list(words))  # unknown options raise
    help_result = CliRunner().invoke(triage, [*path, "--help"])
    assert help_result.exit_code == 0, help_result.output
    return command


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for name, service in SERVICES.items():
        if "command" in service:
            found.append((name, list(service["command"])))
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test[0] == "CMD":
            found.append((f"{name} healthcheck", test[1:]))
    return found


def test_the_deploy_configuration_loads():
    config = load_config(DEPLOY_CONFIG)
    assert config.worker.demo is False
    assert config.database.url.startswith("postgresql")
    assert config.broker.url.startswith("redis://")
    load_policy(config.policy.preset, config.policy.path)


def test_our_services_run_triage_or_dramatiq():
    assert {"migrate", "poller", "worker"} <= set(OURS)
    for name in OURS:
        program = SERVICES[name]["command"][0]
        assert program in ("triage", "dramatiq"), f"{name}: {program}"


@pytest.mark.parametrize("where, words", [c for c in _commands() if c[1][0] == "triage"])
def test_every_triage_command_is_a_real_entry_point(where, words):
    _parse_triage(words[1:])


@pytest.mark.parametrize("where, words", [c for c in _commands() if c[1][0] == "dramatiq"])
def test_every_dramatiq_command_loads_the_actors_on_the_configured_broker(where, words, tmp_path):
    from dramatiq.cli import make_argument_parser

    arguments = make_argument_parser().parse_args(words[1:])
    assert arguments.broker == "worker.jobs"
    # In a process of its own, as the container runs it: importing the actors sets the broker.
    environment = {**os.environ, CONFIG_ENV: str(DEPLOY_CONFIG)}
    environment |= dict.fromkeys(_secrets_required(load_config(DEPLOY_CONFIG)), "not-a-secret")
    probe = ("import json; from dramatiq.cli import import_broker; "
             f"_, broker = import_broker({arguments.broker!r}); "
             "print(json.dumps([type(broker).__name__, sorted(broker.get_declared_actors())]))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    broker, actors = json.loads(result.stdout.strip().splitlines()[-1])
    assert broker == "RedisBroker"
    assert {"case.open", "mail.send", "deadlines.sweep"} <= set(actors)


def test_every_variable_set_for_our_services_is_one_the_configuration_reads():
    config = load_config(DEPLOY_CONFIG)
    read = _variables_read(config)
    for name in OURS:
        environment = _environment(SERVICES[name])
        unknown = set(environment) - read
        assert not unknown, f"{name} sets {sorted(unknown)}, which nothing reads"
        missing = _secrets_required(config) - set(environment)
        assert not missing, f"{name} lacks {sorted(missing)}: the worker would not start"
        assert environment[CONFIG_ENV] in _mount_targets(SERVICES[name])
    # Variables the libraries we run read themselves.
    read_by_libraries = {"MPLCONFIGDIR"}  # matplotlib's writable cache, for the report charts
    for line in re.findall(r"^ENV\s+(\w+)", DOCKERFILE, flags=re.MULTILINE):
        assert line in read | read_by_libraries, f"the Dockerfile sets {line}, which nothing reads"


def test_the_database_password_is_the_one_postgres_was_given():
    postgres = _environment(SERVICES["postgres"])
    config = load_config(DEPLOY_CONFIG)
    for name in OURS:
        assert _environment(SERVICES[name])[config.database.password_env] == postgres["POSTGRES_PASSWORD"]
    assert f"//{postgres['POSTGRES_USER']}@postgres:5432/{postgres['POSTGRES_DB']}" in config.database.url


def test_the_configuration_names_the_stack_s_services():
    config = load_config(DEPLOY_CONFIG)
    hosts = [re.search(r"@([\w-]+):", config.database.url).group(1),
             re.search(r"//([\w-]+):", config.broker.url).group(1),
             config.smtp.host, *(mailbox.host for mailbox in config.mailboxes)]
    for host in hosts:
        assert host in SERVICES, f"{host} is not a service of docker-compose.yml"


def test_nothing_is_bound_beyond_loopback():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_postgres_redis_and_the_poller_have_health_checks():
    for name in ("postgres", "redis", "poller"):
        assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name, service in SERVICES.items():
        depends = service.get("depends_on") or {}
        for other, condition in (depends.items() if isinstance(depends, dict) else []):
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[other], f"{name} waits for {other}'s health check"


def _mount_targets(service: dict) -> set[str]:
    return {str(volume).split(":")[1] for volume in service.get("volumes", [])}


def test_data_lives_in_named_volumes_and_only_configuration_is_bind_mounted():
    named = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, _target, *mode = str(volume).split(":")
            if source.startswith((".", "/")):
                assert mode == ["ro"] and (ROOT / source).is_file(), f"{name}: {volume}"
            else:
                assert source in named, f"{name}: {source} is not a named volume"
    config = load_config(DEPLOY_CONFIG)
    for name in OURS:
        assert config.storage.dir in _mount_targets(SERVICES[name])


def test_the_image_holds_what_the_worker_needs_and_can_write_its_storage():
    for source in re.findall(r"^COPY\s+(.+?)\s+\S+$", DOCKERFILE, flags=re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}: no such path"
    storage = load_config(DEPLOY_CONFIG).storage.dir
    user = re.findall(r"^USER\s+(\w+)", DOCKERFILE, flags=re.MULTILINE)[-1]
    # A named volume takes the owner of the image's directory: it must exist, owned by the user.
    assert re.search(rf"chown\s+{user}\S*\s+{re.escape(storage)}", DOCKERFILE), (
        f"the Dockerfile does not create {storage} for {user}")
