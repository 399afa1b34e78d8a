"""The configuration file: defaults, the example file kept in step, errors that name the key."""

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from worker.cli import triage
from worker.config import Config, ConfigError, MailboxConfig, load_config

EXAMPLE = Path(__file__).parent.parent / "triage.example.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        elif name == "mailboxes":
            keys |= _keys(MailboxConfig, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def _file_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in data.items():
        if isinstance(value, dict):
            keys |= _file_keys(value, f"{prefix}{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            keys |= _file_keys(value[0], f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_file_lists_every_key_of_the_code():
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert _file_keys(example) == _keys(Config)


def test_example_file_values_are_the_defaults():
    example = load_config(EXAMPLE)
    defaults = Config()
    for section in ("database", "broker", "storage", "smtp", "policy", "security", "worker"):
        assert getattr(example, section) == getattr(defaults, section), section
    # A mailbox's identity has no useful default: the example shows one.
    illustrative = {"username", "password_env"}
    mailbox_defaults = {name: f.default for name, f in MailboxConfig.model_fields.items()
                        if not f.is_required() and name not in illustrative}
    example_mailbox = example.mailboxes[0].model_dump()
    for key, default in mailbox_defaults.items():
        assert example_mailbox[key] == default, f"mailboxes.{key}"


def test_no_file_means_the_embedded_default(monkeypatch):
    monkeypatch.delenv("TRIAGE_CONFIG", raising=False)
    config = load_config()
    assert config.database.url.startswith("sqlite:///var/")
    assert config.broker.url == "stub://"
    assert config.worker.demo is True


def test_environment_variable_finds_the_file(monkeypatch, tmp_path):
    file = tmp_path / "triage.toml"
    file.write_text('[database]\nurl = "sqlite:///elsewhere.db"\n', encoding="utf-8")
    monkeypatch.setenv("TRIAGE_CONFIG", str(file))
    assert load_config().database.url == "sqlite:///elsewhere.db"
    assert load_config().source == str(file)


def test_secrets_come_from_the_named_variable(monkeypatch, tmp_path):
    file = tmp_path / "triage.toml"
    file.write_text('[[mailboxes]]\nname = "m"\nhost = "h"\npassword_env = "MY_PW"\n')
    mailbox = load_config(file).mailboxes[0]
    monkeypatch.delenv("MY_PW", raising=False)
    with pytest.raises(ConfigError, match="MY_PW is not set"):
        mailbox.password()
    monkeypatch.setenv("MY_PW", "s3cret")
    assert mailbox.password() == "s3cret"


@pytest.mark.parametrize("content, expected", [
    ('[database]\nurll = "x"\n', "database.urll: unknown key"),
    ('[[mailboxes]]\nname = "a"\nhost = "h"\ntls = "tls"\n', "mailboxes.0.tls"),
    ('[broker]\nurl = "kafka://x"\n', "broker: url must start with"),
    ('[smtp]\nport = "twenty-five"\n', "smtp.port"),
    ('[database\n', "not valid TOML"),
    ('[[mailboxes]]\nname = "a"\nhost = "h"\n[[mailboxes]]\nname = "a"\nhost = "i"\n',
     "mailbox names must be unique"),
])
def test_bad_file_gets_one_clear_message_and_exit_code_2(tmp_path, content, expected):
    file = tmp_path / "bad.toml"
    file.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(triage, ["--config", str(file), "cases", "list"])
    assert result.exit_code == 2
    assert str(file) in result.output and expected in result.output
    assert "Traceback" not in result.output


def test_missing_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(triage, ["--config", str(tmp_path / "nope.toml"), "cases", "list"])
    assert result.exit_code == 2
    assert "no such file" in result.output
