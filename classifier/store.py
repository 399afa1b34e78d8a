"""Model versions on disk: ``models/<version>/{model.skops, meta.json}``.

A version directory is written once under a temporary name and renamed into
place, so it is complete or absent, and never rewritten. The model is saved
with skops, never pickle. Loading trusts exactly the types recorded at save
time, and only if every one of them is a scikit-learn, NumPy or SciPy type: a
file that needs anything else is refused before a single object is built.

A fitted vectoriser's vocabulary is written as an array of its terms (see
`_with_term_arrays`): skops writes a dict item by item, and reading the 65,000
terms of the shipped model that way took a second of every worker's start.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import skops.io

MODEL_FILE = "model.skops"
META_FILE = "meta.json"
TRUSTED_MODULES = ("sklearn", "numpy", "scipy")


class UntrustedModelError(Exception):
    """The model file holds, or its metadata trusts, a type outside sklearn/numpy/scipy."""


def check_trusted(type_names: list[str]) -> None:
    outside = [name for name in type_names if name.split(".")[0] not in TRUSTED_MODULES]
    if outside:
        raise UntrustedModelError(f"refusing to trust types outside {TRUSTED_MODULES}: {outside}")


def save(model: dict, meta: dict, models_dir: str | Path, now: datetime | None = None) -> Path:
    """Write a new version directory and return its path.

    ``model`` holds only sklearn objects (and dicts / strings around them);
    ``meta`` is JSON. The version is ``YYYYMMDD-HHMMSS-<first 8 of the file's sha256>``.
    """
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models_dir))
    try:
        return _write(model, meta, staging, models_dir, now)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(model: dict, meta: dict, staging: Path, models_dir: Path, now: datetime | None) -> Path:
    model_path = staging / MODEL_FILE
    compact = {key: _with_term_arrays(value) for key, value in model.items()}
    skops.io.dump(compact, model_path, compression=zipfile.ZIP_DEFLATED)
    trusted = sorted(skops.io.get_untrusted_types(file=model_path))
    check_trusted(trusted)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    version = f"{stamp}-{digest[:8]}"
    meta = {**meta, "version": version, "model_sha256": digest, "trusted_types": trusted}
    (staging / META_FILE).write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8"
    )
    for path in (model_path, staging / META_FILE):
        path.chmod(0o444)
    staging.chmod(0o755)
    final = models_dir / version
    if final.exists():
        raise FileExistsError(f"model version {version} already exists")
    os.rename(staging, final)
    return final


def _with_term_arrays(estimator):
    """A copy of a fitted vectoriser (or of a ColumnTransformer's fitted vectorisers) that
    holds its vocabulary as the ``vocabulary`` parameter, its terms in index order in one
    array, instead of the fitted ``vocabulary_`` dict. sklearn rebuilds the dict from the
    parameter on first use, and the transform is the same."""
    if hasattr(estimator, "transformers_"):
        compact = copy.copy(estimator)
        compact.transformers_ = [
            (name, _with_term_arrays(fitted), columns)
            for name, fitted, columns in estimator.transformers_
        ]
        return compact
    vocabulary = getattr(estimator, "vocabulary_", None)
    if vocabulary is None:
        return estimator
    compact = copy.copy(estimator)
    del compact.vocabulary_
    return compact.set_params(vocabulary=np.array(sorted(vocabulary, key=vocabulary.get)))


def load(model_dir: str | Path) -> tuple[dict, dict]:
    """The model and its metadata, checked against the trusted types and the hash."""
    model_dir = Path(model_dir)
    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    trusted = list(meta.get("trusted_types", []))
    check_trusted(trusted)
    data = (model_dir / MODEL_FILE).read_bytes()
    if meta.get("model_sha256") and hashlib.sha256(data).hexdigest() != meta["model_sha256"]:
        raise UntrustedModelError(f"{model_dir / MODEL_FILE} does not match its recorded sha256")
    # skops raises UntrustedTypesFoundException for any type not in `trusted`.
    model = skops.io.loads(data, trusted=trusted)
    return model, meta


def versions(models_dir: str | Path) -> list[Path]:
    """Complete version directories, oldest first (names sort by time)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return sorted(
        path
        for path in models_dir.iterdir()
        if path.is_dir() and not path.name.startswith(".") and (path / META_FILE).is_file()
    )


def latest(models_dir: str | Path) -> Path | None:
    found = versions(models_dir)
    return found[-1] if found else None
