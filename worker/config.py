"""The worker's configuration: one TOML file, validated once at start-up.

Found by `--config PATH`, else `TRIAGE_CONFIG`, else the embedded default
(SQLite under ./var/, the in-process broker, the local demo mailbox).
Secrets never live in the file: it names the environment variables that hold
them (`password_env = "IMAP_PASSWORD"`). `triage.example.toml` lists every key
beside its default; tests/test_config.py keeps the two in step.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from sqlalchemy.engine import make_url

CONFIG_ENV = "TRIAGE_CONFIG"


class ConfigError(Exception):
    """A configuration or policy file that cannot be used; the message names the file and key."""


class _Section(BaseModel):
    # Unknown keys are typos, and a typo in a config file must not pass silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Section):
    url: str = "sqlite:///var/triage.db"
    # The password goes into the URL from this variable, so the file holds no secret.
    password_env: str = ""

    def url_with_password(self) -> str:
        password = _secret(self.password_env, "database.password_env")
        if not password:
            return self.url
        return make_url(self.url).set(password=password).render_as_string(hide_password=False)


class BrokerConfig(_Section):
    url: str = "stub://"
    # Worker threads of the in-process broker (stub://).
    threads: int = Field(default=2, ge=1, le=64)
    # Retries of temporary failures (SMTP 4xx, connection errors), with exponential backoff.
    max_retries: int = Field(default=10, ge=0)
    min_backoff: float = Field(default=15.0, gt=0)
    max_backoff: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _known_scheme(self) -> BrokerConfig:
        if not self.url.startswith(("stub://", "redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("url must start with stub://, redis:// or amqp://")
        return self


class StorageConfig(_Section):
    dir: str = "var/storage"


class MailboxConfig(_Section):
    name: str
    host: str
    port: int = Field(default=993, ge=0, le=65535)
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password_env: str = ""
    auth: Literal["password", "xoauth2"] = "password"
    # XOAUTH2: the access token comes from this variable, or from the output of this command.
    token_env: str = ""
    token_command: str = ""
    folder: str = "INBOX"
    # Empty: processed mail stays in `folder`, flagged \Seen. Otherwise it is moved here.
    processed_folder: str = ""
    poll_interval: float = Field(default=60.0, gt=0)
    idle: bool = True
    batch_size: int = Field(default=50, ge=1, le=1000)

    def password(self) -> str:
        return _secret(self.password_env, f"mailboxes[{self.name}].password_env")


class SmtpConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=0, le=65535)
    tls: Literal["ssl", "starttls", "none"] = "none"
    username: str = ""
    password_env: str = ""
    from_address: str = "complaints@example.com"
    from_name: str = "客户投诉中心"
    timeout: float = Field(default=30.0, gt=0)

    def password(self) -> str:
        return _secret(self.password_env, "smtp.password_env")


class PolicyRef(_Section):
    preset: str = "recycling"
    path: str = ""


class SecurityConfig(_Section):
    # Signs the reply tokens in complaints+<token>@… addresses; unset, a key is kept under storage.
    signing_key_env: str = "TRIAGE_SIGNING_KEY"


class WorkerConfig(_Section):
    # How often deadlines are swept (reminders, escalations, follow-ups).
    sweep_interval: float = Field(default=60.0, gt=0)
    # The embedded demo mailbox and SMTP server (pymap + aiosmtpd on loopback).
    demo: bool = False
    # A mail left `sending` this long belongs to a worker that died: it is sent again.
    sending_lease: float = Field(default=600.0, gt=0)


class Config(_Section):
    database: DatabaseConfig = DatabaseConfig()
    broker: BrokerConfig = BrokerConfig()
    storage: StorageConfig = StorageConfig()
    mailboxes: list[MailboxConfig] = []
    smtp: SmtpConfig = SmtpConfig()
    policy: PolicyRef = PolicyRef()
    security: SecurityConfig = SecurityConfig()
    worker: WorkerConfig = WorkerConfig()
    # Where the configuration came from, for messages; not a key of the file.
    _source: str = PrivateAttr(default="<embedded default>")

    @property
    def source(self) -> str:
        return self._source

    @model_validator(mode="after")
    def _unique_mailbox_names(self) -> Config:
        names = [m.name for m in self.mailboxes]
        if len(names) != len(set(names)):
            raise ValueError("mailbox names must be unique")
        return self


def _secret(env_name: str, key: str) -> str:
    if not env_name:
        return ""
    value = os.environ.get(env_name)
    if value is None:
        raise ConfigError(f"{key}: environment variable {env_name} is not set")
    return value


def embedded_default() -> Config:
    """No file given: everything runs in-process against the local demo mailbox."""
    return Config(worker=WorkerConfig(demo=True))


def describe_validation_error(source: str, error: ValidationError) -> str:
    """One line per problem, each naming the file and the dotted key."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        # Cross-field checks name their own key at the start of the message.
        lines.append(f"{source}: {message}" if not problem["loc"] else f"{source}: {key}: {message}")
    return "\n".join(lines)


def parse_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as error:
        raise ConfigError(f"{path}: cannot be read: {error}") from None


def load_config(path: str | os.PathLike | None = None) -> Config:
    """The configuration in force: the given file, else $TRIAGE_CONFIG, else the embedded default."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return embedded_default()
    file = Path(chosen)
    data = parse_toml(file)
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(str(file), error)) from None
    config._source = str(file)
    return config
