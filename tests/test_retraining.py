"""Retraining by admins: relabel a case, train with the corrections, promote (refused when worse,
unless forced), roll back, and running workers switching models without a restart."""

from __future__ import annotations

import json
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from test_classifier_cli import (
    CITY,
    HOUSING,
    MARKET,
    TRANSPORT,
    hotline_rows,
    invoke,
    json_lines,
    write_jsonl,
)

from classifier import dataset
from models.base import utcnow
from models.cases import Case, CaseEvent, LabelCorrection
from models.model_versions import ModelVersion
from worker import models_registry
from worker.app import App
from worker.config import load_config
from worker.models_admin import SHIPPED_CORPUS_DIR, promotion_rows, record_version
from worker.models_registry import SHIPPED_MODEL_DIR, shipped_version
from worker.retraining import relabel

from harness import write_config

# The hotline's own policy: the recycling preset plus its four bureaus.
HOTLINE_POLICY = 'extends = "recycling"\n' + "".join(
    f'[departments."{code}"]\nname = "{code}"\naddress = "{number}@hotline.example.com"\n'
    f'head = "head-{number}@hotline.example.com"\n'
    for number, code in enumerate((HOUSING, TRANSPORT, MARKET, CITY), 1)
)


@pytest.fixture
def config(tmp_path) -> Path:
    policy = tmp_path / "hotline-policy.toml"
    policy.write_text(HOTLINE_POLICY, encoding="utf-8")
    path = write_config(tmp_path, None, None)
    text = path.read_text(encoding="utf-8").replace('preset = "recycling"', f'path = "{policy}"')
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def app(config) -> App:
    return App(load_config(config))


@pytest.fixture
def hotline_data(tmp_path) -> Path:
    return write_jsonl(tmp_path / "hotline.jsonl", hotline_rows())


def train(config: Path, data: Path, *extra: str) -> str:
    result = invoke(config, "model", "train", "--data", str(data), "--estimator", "svc", *extra)
    assert result.exit_code == 0, result.output
    return result.output.split("saved ")[1].split()[0]


def versions(config: Path) -> dict[str, dict]:
    result = invoke(config, "model", "list", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return {row["version"]: row for row in json_lines(result)}


def active(config: Path) -> str:
    [version] = [v for v, row in versions(config).items() if row["active"]]
    return version


def shipped_copy(app: App) -> str:
    """The shipped model recorded as a trained version, as if trained again on the shipped corpus."""
    path = app.storage_dir / "models" / shipped_version()
    shutil.copytree(SHIPPED_MODEL_DIR, path)
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    record_version(app.db, path, meta, utcnow())
    return path.name


def open_case(app: App, number: str = "TS-20261123-0001") -> str:
    with app.db.transaction() as session:
        session.add(Case(number=number, kind="complaint", category="other", department="customer_service",
                         severity="normal", reply_token=f"token-{number}", subject="小区门口占道经营",
                         facts="小区门口每天晚上都有一排摆摊的占了人行道，城管一直不来管。",
                         model_version="shipped"))
    return number


def test_promote_refuses_a_worse_model_unless_forced_and_rollback_goes_back(config, app, hotline_data):
    hotline = train(config, hotline_data)
    shipped = f"shipped:{shipped_version()}"
    assert active(config) == shipped and not versions(config)[hotline]["active"]

    refused = invoke(config, "model", "promote", hotline)
    assert refused.exit_code == 1
    assert f"refused: {hotline} is worse than {shipped}" in refused.output
    assert "department" in refused.output and "category" in refused.output
    assert "frozen holdout rows" in refused.output
    assert active(config) == shipped

    forced = invoke(config, "model", "promote", hotline, "--force")
    assert forced.exit_code == 0, forced.output
    assert active(config) == hotline and versions(config)[hotline]["promoted_at"]

    # A model at least as good as the active one goes through without --force.
    retrained = shipped_copy(app)
    promoted = invoke(config, "model", "promote", retrained)
    assert promoted.exit_code == 0, promoted.output
    assert f"promoted {retrained} (was {hotline})" in promoted.output
    assert active(config) == retrained
    assert sum(row["active"] for row in versions(config).values()) == 1

    back = invoke(config, "model", "rollback")
    assert back.exit_code == 0 and f"rolled back from {retrained} to {hotline}" in back.output
    assert active(config) == hotline
    back = invoke(config, "model", "rollback")
    assert back.exit_code == 0 and f"to {shipped}" in back.output
    assert active(config) == shipped
    nothing = invoke(config, "model", "rollback")
    assert nothing.exit_code == 1 and "nothing to roll back" in nothing.output


def test_promote_an_unknown_or_already_active_version(config, hotline_data):
    unknown = invoke(config, "model", "promote", "20990101-000000-deadbeef")
    assert unknown.exit_code == 1 and "no model version '20990101-000000-deadbeef'" in unknown.output
    hotline = train(config, hotline_data)
    assert invoke(config, "model", "promote", hotline, "--force").exit_code == 0
    again = invoke(config, "model", "promote", hotline)
    assert again.exit_code == 1 and "already active" in again.output


def test_a_version_whose_files_were_tampered_with_is_never_promoted(config, app, hotline_data):
    hotline = train(config, hotline_data)
    model_file = app.storage_dir / "models" / hotline / "model.skops"
    model_file.chmod(0o644)
    model_file.write_bytes(model_file.read_bytes() + b"x")
    result = invoke(config, "model", "promote", hotline, "--force")
    assert result.exit_code == 1 and "cannot be loaded" in result.output
    assert active(config).startswith("shipped:")


def test_relabel_records_a_correction_and_an_event(config, app):
    number = open_case(app)
    result = invoke(config, "cases", "relabel", number, "--department", CITY, "--kind", "complaint",
                    "--category", "service_quality", "--by", "王主任")
    assert result.exit_code == 0, result.output
    assert f"{number}: department customer_service -> {CITY}" in result.output
    with app.db.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        corrections = session.scalars(select(LabelCorrection).order_by(LabelCorrection.id)).all()
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert (case.department, case.category, case.kind) == (CITY, "service_quality", "complaint")
    # kind was already right: nothing to learn, nothing recorded.
    assert [(c.head, c.old_label, c.new_label, c.source, c.corrected_by, c.predicted_label)
            for c in corrections] == [
        ("category", "other", "service_quality", "admin", "王主任", "other"),
        ("department", "customer_service", CITY, "admin", "王主任", "customer_service"),
    ]
    [event] = events
    assert (event.kind, event.actor) == ("relabelled", "王主任")
    assert event.detail == {"changes": {"category": {"from": "other", "to": "service_quality"},
                                        "department": {"from": "customer_service", "to": CITY}}}
    shown = invoke(config, "cases", "show", number)
    assert "event relabelled by 王主任" in shown.output


@pytest.mark.parametrize("args, code, message", [
    (["--department", "财政局"], 2, "unknown department '财政局'"),
    (["--severity", "critical"], 2, "unknown severity 'critical'"),
    ([], 2, "give at least one of"),
])
def test_relabel_refuses_values_the_policy_does_not_know(config, app, args, code, message):
    number = open_case(app)
    result = invoke(config, "cases", "relabel", number, *args)
    assert result.exit_code == code and message in result.output
    with app.db.sessions() as session:
        assert session.scalars(select(LabelCorrection)).all() == []


def test_relabel_takes_a_department_by_its_name(config, app):
    number = open_case(app)
    result = invoke(config, "cases", "relabel", number, "--department", "财务部")
    assert result.exit_code == 0 and f"{number}: department customer_service -> finance" in result.output
    again = invoke(config, "cases", "relabel", number, "--department", "finance")
    assert again.exit_code == 0 and "nothing recorded" in again.output
    with app.db.sessions() as session:
        assert len(session.scalars(select(LabelCorrection)).all()) == 1
        assert len(session.scalars(select(CaseEvent)).all()) == 1


def test_relabel_an_unknown_case(config):
    result = invoke(config, "cases", "relabel", "TS-20990101-0001", "--department", CITY)
    assert result.exit_code == 1 and "no case TS-20990101-0001" in result.output


def test_train_from_corrections_adds_the_corrected_cases(config, app, hotline_data):
    before = train(config, hotline_data, "--from-corrections")
    number = open_case(app)
    assert invoke(config, "cases", "relabel", number, "--department", CITY).exit_code == 0
    result = invoke(config, "model", "train", "--data", str(hotline_data), "--estimator", "svc",
                    "--from-corrections")
    assert result.exit_code == 0, result.output
    assert "(1 from corrections)" in result.output
    after = result.output.split("saved ")[1].split()[0]
    listed = versions(config)
    assert listed[after]["data_rows"] == listed[before]["data_rows"] + 1
    metas = {version: json.loads((app.storage_dir / "models" / version / "meta.json").read_text())
             for version in (before, after)}
    assert metas[after]["data"]["sha256"] != metas[before]["data"]["sha256"]
    with app.db.sessions() as session:
        hashes = dict(session.execute(select(ModelVersion.version, ModelVersion.data_sha256)).all())
    assert hashes == {version: metas[version]["data"]["sha256"] for version in (before, after)}


def test_promotion_set_is_the_frozen_holdout_plus_recent_corrections(config, app):
    number = open_case(app)
    old = open_case(app, "TS-20250101-0001")
    assert invoke(config, "cases", "relabel", number, "--department", CITY).exit_code == 0
    with app.db.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == old))
        relabel(session, case, {"department": HOUSING}, "王主任", utcnow() - timedelta(days=200))
    holdout, corrections = promotion_rows(app.db, utcnow())
    corpus = dataset.read_rows([SHIPPED_CORPUS_DIR])
    assert 0.15 < len(holdout) / len(corpus) < 0.25
    assert all(dataset.is_holdout(dataset.row_id(row), 0.2) for row in holdout)
    assert [(row["id"], row["department"], row["kind"]) for row in corrections] == [
        (f"correction:{number}", CITY, "complaint")]
    assert corrections[0]["body"].startswith("小区门口每天晚上")


def test_a_running_app_switches_to_the_promoted_model(config, app, hotline_data, monkeypatch,
                                                       tmp_path):
    monkeypatch.setattr(models_registry, "CHECK_EVERY_SECONDS", 0.2)
    shipped = app.classifier
    assert shipped.meta["version"] == shipped_version()
    assert app.classifier is shipped  # loaded once, not per call
    hotline = train(config, hotline_data)
    assert invoke(config, "model", "promote", hotline, "--force").exit_code == 0
    time.sleep(0.3)
    switched = app.classifier
    assert switched is not shipped and switched.meta["version"] == hotline
    assert switched.predict("路边烧烤", "夜市烧烤摊占道经营，油烟很大")["department"].label == CITY
    # `triage classify` without --model uses the promoted model too.
    message = write_jsonl(tmp_path / "one.jsonl", [{"body": "夜市烧烤摊占道经营，油烟很大"}])
    [line] = json_lines(invoke(config, "classify", str(message)))
    assert line["department"] == CITY and line["category"] is None
    assert invoke(config, "model", "rollback").exit_code == 0
    time.sleep(0.3)
    assert app.classifier.meta["version"] == shipped_version()
