"""What a command or worker process holds: the configuration, the policy and the database."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from models.db import Database, alembic_config
from worker.cases.env import CaseEnv
from worker.config import Config, ConfigError
from worker.models_registry import ActiveClassifier
from worker.policy import Policy, load_policy
from worker.reply_tokens import load_signing_key

if TYPE_CHECKING:  # scikit-learn takes seconds to import: only processes that classify pay it
    from classifier.predict import Classifier


class App:
    def __init__(self, config: Config):
        self.config = config

    @cached_property
    def policy(self) -> Policy:
        return load_policy(self.config.policy.preset, self.config.policy.path)

    @cached_property
    def db(self) -> Database:
        database = Database(self.config.database.url_with_password())
        _ensure_schema(database)
        return database

    @cached_property
    def storage_dir(self) -> Path:
        path = Path(self.config.storage.dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def env(self) -> CaseEnv:
        key = load_signing_key(self.config.security.signing_key_env, self.storage_dir)
        return CaseEnv(self.policy, self.config.smtp.from_address.lower(), key, self.storage_dir)

    @cached_property
    def classifiers(self) -> ActiveClassifier:
        """The classifier in force: loaded once per process, swapped when another is promoted."""
        return ActiveClassifier(self.db)

    @property
    def classifier(self) -> Classifier:
        return self.classifiers.get()


def _ensure_schema(database: Database) -> None:
    """SQLite (the embedded default) migrates itself; a server database must be upgraded on purpose."""
    if database.is_sqlite:
        database.upgrade()
        return
    head = ScriptDirectory.from_config(alembic_config(database.engine)).get_current_head()
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise ConfigError(
            f"database.url: schema is at {current or 'nothing'}, the code needs {head}: "
            "run `triage db upgrade`"
        )
