"""Which classifier model a process uses: the active version in the database, else the shipped one.

Workers check the active version at most every few seconds, so `triage model promote` reaches
running workers without a restart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

import classifier
from models.model_versions import ModelVersion

if TYPE_CHECKING:
    from classifier.predict import Classifier

SHIPPED_MODEL_DIR = Path(classifier.__file__).resolve().parent / "model"
CHECK_EVERY_SECONDS = 5.0

log = logging.getLogger("triage.classifier")


class ActiveClassifier:
    """Holds the loaded classifier and swaps it when another version is promoted."""

    def __init__(self, db):
        self.db = db
        self._lock = threading.Lock()
        self._loaded: tuple[str, Classifier] | None = None
        self._checked_at = 0.0

    def get(self) -> Classifier:
        with self._lock:
            if self._loaded is None or time.monotonic() - self._checked_at > CHECK_EVERY_SECONDS:
                self._refresh()
            return self._loaded[1]

    def _refresh(self) -> None:
        self._checked_at = time.monotonic()
        version, path = active_model(self.db)
        if self._loaded is not None and self._loaded[0] == version:
            return
        from classifier.predict import Classifier  # scikit-learn loads only where it is used

        self._loaded = (version, Classifier.load(path))
        log.info("classifier model %s loaded from %s", version, path)


def active_model(db) -> tuple[str, Path]:
    """(version, directory) of the model in force."""
    with db.sessions() as session:
        row = session.scalar(select(ModelVersion).where(ModelVersion.active.is_(True)))
    if row is not None:
        return row.version, Path(row.path)
    return f"shipped:{shipped_version()}", SHIPPED_MODEL_DIR


def shipped_version() -> str:
    meta = SHIPPED_MODEL_DIR / "meta.json"
    if not meta.exists():
        return "missing"
    return json.loads(meta.read_text(encoding="utf-8")).get("version", "unknown")
