"""Policies: the five presets, `extends`, stage limits, and errors that name the key."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from worker.cli import triage
from worker.cli.policy import summarise
from worker.config import ConfigError
from worker.policy import STAGES, load_policy, preset_names

PRESETS = ["consulting", "express", "manufacturer", "recycling", "service_hall"]


def test_the_five_seed_organisations_ship_as_presets():
    assert preset_names() == PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_passes_policy_check(preset):
    result = CliRunner().invoke(triage, ["policy", "check", "--preset", preset])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("ok")
    policy = load_policy(preset)
    for kind in policy.labels.kinds:
        for severity in policy.labels.severities:
            assert set(policy.stage_limits(kind, severity)) == set(STAGES)


def test_stage_limits_follow_kind_then_severity_then_both(tmp_path):
    file = tmp_path / "p.toml"
    file.write_text(
        'extends = "recycling"\n'
        '[deadlines.complaint]\ninvestigate = "5 working days"\n'
        '[deadlines.complaint.urgent]\ninvestigate = "1 working hour"\n'
    )
    policy = load_policy(path=str(file))
    assert str(policy.stage_limits("complaint", "normal")["investigate"]) == "5 working days"
    # severity's own table (4 working hours) is overridden by the kind+severity table
    assert str(policy.stage_limits("complaint", "urgent")["investigate"]) == "1 working hour"
    assert str(policy.stage_limits("praise", "urgent")["investigate"]) == "4 working hours"
    assert str(policy.stage_limits("praise", "normal")["investigate"]) == "3 working days"


def test_seed_specific_clocks():
    assert str(load_policy("manufacturer").stage_limits("complaint", "normal")["dispatch"]) == "30 minutes"
    assert str(load_policy("consulting").stage_limits("inquiry", "normal")["dispatch"]) == "24 hours"
    assert str(load_policy("service_hall").stage_limits("complaint", "normal")["overall"]) == "15 working days"
    assert load_policy("service_hall").case_numbers.format == "{date:%y%m}{seq:02d}"


def test_the_calendar_comes_from_the_policy():
    calendar = load_policy("recycling").calendar
    friday_evening = datetime(2026, 11, 20, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert calendar.add(friday_evening, "1 working day") == datetime(
        2026, 11, 23, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize("content, expected", [
    ('[organisation]\nname = "x"\n', "organisation.desk_address: Field required"),
    ('extends = "recycling"\n[routing]\nfallback = "nobody"\n', "routing.fallback: no department"),
    ('extends = "recycling"\n[deadlines.complaint.urgent]\ndispatch = "soon"\n',
     "deadlines.complaint.urgent.dispatch: cannot read duration"),
    ('extends = "recycling"\n[deadlines.default]\nlunch = "1 hour"\n', "deadlines.default.lunch: unknown stage"),
    ('extends = "recycling"\n[thresholds]\nkind = 1.5\n', "thresholds.kind"),
    ('extends = "recycling"\n[case_numbers]\nformat = "TS-{date:%Y}"\n', "case_numbers.format: must contain {seq}"),
    ('extends = "recycling"\n[business_hours]\nhours = [["13:00", "12:00"]]\n', "business_hours.hours"),
    ('extends = "nowhere"\n', "extends: no preset 'nowhere'"),
    ('extends = "recycling"\n[[routing.rules]]\ncategory = "delivery"\n',
     "a routing rule needs department or copy_to"),
    ('extends = "recycling"\n[privacy]\nphone = "shown"\n', "privacy.phone"),
])
def test_broken_policy_gets_a_one_line_error_naming_the_key(tmp_path, content, expected):
    file = tmp_path / "policy.toml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace("{", r"\{")):
        load_policy(path=str(file))
    result = CliRunner().invoke(triage, ["policy", "check", "--path", str(file)])
    assert result.exit_code == 2
    assert expected in result.output and str(file) in result.output
    assert "Traceback" not in result.output


def test_unknown_preset_in_config_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"policy\.preset: no preset 'bank'"):
        load_policy("bank")


def test_policy_check_names_the_years_the_statutory_calendar_knows(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('extends = "recycling"\n[business_hours]\n'
                      'extra_holidays = ["2099-10-01", "2099-10-02"]\n', encoding="utf-8")
    known = summarise(load_policy(path=str(policy)), today=date(2025, 6, 1))
    assert "statutory holidays 2025: from chinese_calendar" in known
    assert "statutory holidays 2026: from chinese_calendar" in known
    unknown = summarise(load_policy(path=str(policy)), today=date(2099, 3, 1))
    assert "statutory holidays 2099: NOT KNOWN" in unknown
    assert "extra_holidays (2 in 2099)" in unknown
    assert "statutory holidays 2100: NOT KNOWN" in unknown and "(0 in 2100)" in unknown
