"""An organisation's complaint-handling policy (DOMAIN.md §2-§7), loaded from TOML.

Everything that differs between organisations lives here, not in code: label
sets, departments and their addresses, routing overrides, stage time limits per
kind and severity, business hours, the case-number format, review thresholds,
what departments may see of the complainant, out-of-scope rules, retention.

A policy file may start with `extends = "<preset>"` and hold only what differs.
The five seed organisations ship as presets in worker/policies/.
"""

from __future__ import annotations

import re
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from worker.config import ConfigError, describe_validation_error, parse_toml
from worker.workdays import Duration, WorkCalendar, parse_duration

PRESET_DIR = Path(__file__).parent / "policies"
DEFAULT_PRESET = "recycling"

# Stages a case passes, in order; each stage's limit runs from the end of the one before.
CHAIN_STAGES = ("dispatch", "investigate", "resolve", "answer", "reply")
# Stages with their own clock: register and overall from opening, follow_up from the
# reply, archive from closing.
OTHER_STAGES = ("register", "overall", "follow_up", "archive")
STAGES = ("register", *CHAIN_STAGES, "overall", "follow_up", "archive")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_Section):
    name: str
    timezone: str = "Asia/Shanghai"
    # The complaint desk (客户服务中心): copies of replies, manual triage, alerts.
    desk_address: str
    management: list[str] = []
    legal: list[str] = []


class Labels(_Section):
    kinds: list[str] = ["complaint", "inquiry", "suggestion", "praise"]
    categories: list[str] = [
        "service_quality", "pricing_billing", "item_loss_damage", "staff_misconduct",
        "false_advertising", "product_quality", "delivery", "after_sales", "facilities_it",
        "other",
    ]
    severities: list[str] = ["normal", "major", "urgent"]
    # Words customers see for each label, e.g. 服务质量 for service_quality.
    titles: dict[str, str] = {}


class Department(_Section):
    name: str
    address: str
    head: str


class RoutingRule(_Section):
    """Conditions (all given ones must hold) and the department they send to, or copy."""

    category: str = ""
    kind: str = ""
    keywords_any: list[str] = []
    sender_domains: list[str] = []
    department: str = ""
    copy_to: list[str] = []
    note: str = ""

    @model_validator(mode="after")
    def _has_effect(self) -> RoutingRule:
        if not self.department and not self.copy_to:
            raise ValueError("a routing rule needs department or copy_to")
        return self


class Routing(_Section):
    # Where a message goes when no rule and no confident prediction decides.
    fallback: str = "customer_service"
    rules: list[RoutingRule] = []
    # Complaints about a staff member go to the department head, not the shared address
    # (seed 003: 被投诉人应当回避).
    staff_complaints_to_head: bool = True


class BusinessHours(_Section):
    hours: list[tuple[str, str]] = [("09:00", "12:00"), ("13:00", "18:00")]
    # For years the statutory calendar does not cover yet, and local closures.
    extra_holidays: list[date] = []
    extra_workdays: list[date] = []

    @field_validator("hours")
    @classmethod
    def _ordered_blocks(cls, blocks: list[tuple[str, str]]) -> list[tuple[str, str]]:
        previous_end = time.min
        for start_text, end_text in blocks:
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
            if not previous_end <= start < end:
                raise ValueError(f"blocks must be ordered and not overlap: {start_text}-{end_text}")
            previous_end = end
        if not blocks:
            raise ValueError("at least one block of business hours")
        return blocks


class CaseNumbers(_Section):
    # str.format with `date` (the opening day, local time) and `seq` (a counter per rendered
    # date part), e.g. TS-{date:%Y%m%d}-{seq:04d} or {date:%y%m}{seq:02d} (seed 003's YYMMCC).
    format: str = "TS-{date:%Y%m%d}-{seq:04d}"

    @field_validator("format")
    @classmethod
    def _renders(cls, fmt: str) -> str:
        if "{seq" not in fmt:
            raise ValueError("must contain {seq}")
        try:
            fmt.format(date=date(2026, 1, 1), seq=1)
        except (KeyError, ValueError, IndexError) as error:
            raise ValueError(f"does not render: {error}") from None
        if not re.fullmatch(r"[A-Za-z0-9-]+", fmt.format(date=date(2026, 1, 1), seq=1)):
            raise ValueError("must render to letters, digits and '-' only")
        return fmt


class Thresholds(_Section):
    kind: float = Field(default=0.5, gt=0, lt=1)
    category: float = Field(default=0.45, gt=0, lt=1)
    department: float = Field(default=0.45, gt=0, lt=1)
    severity: float = Field(default=0.4, gt=0, lt=1)


class Privacy(_Section):
    # What a department sees of the complainant (seed 000 第十九条).
    phone: Literal["full", "masked", "hidden"] = "masked"
    address: Literal["full", "hidden"] = "hidden"
    name: Literal["full", "surname", "hidden"] = "full"


class OutOfScopeRule(_Section):
    name: str
    keywords_any: list[str]
    # Told to the sender, in the polite answer that closes the case.
    reason: str


class Reminders(_Section):
    # A reminder goes to the department when this share of a stage's time has passed.
    at_fraction: float = Field(default=0.75, gt=0, lt=1)
    # Overdue: first the department head; still overdue after this long, management.
    escalate_to_management_after: str = "1 working day"


class Intake(_Section):
    max_message_bytes: int = Field(default=25_000_000, gt=0)
    auto_replies_per_sender_per_hour: int = Field(default=5, ge=0)
    repeat_window: str = "30 days"
    repeat_raises_severity: bool = True
    reopen_window: str = "30 days"


class Lifecycle(_Section):
    # True: the desk approves each department answer by replying 发送 before it goes out.
    reply_requires_approval: bool = False
    follow_up_kinds: list[str] = ["complaint"]


class Retention(_Section):
    years: int = Field(default=3, ge=1, le=30)


class Reports(_Section):
    # Statistics mailed to organisation.management (DOMAIN.md §6), once per period.
    monthly: bool = True
    weekly: bool = False
    quarterly: bool = False


class Policy(_Section):
    organisation: Organisation
    labels: Labels = Labels()
    departments: dict[str, Department]
    routing: Routing = Routing()
    business_hours: BusinessHours = BusinessHours()
    case_numbers: CaseNumbers = CaseNumbers()
    thresholds: Thresholds = Thresholds()
    privacy: Privacy = Privacy()
    # Stage limits: `default`, then overrides by kind, by severity, and by [deadlines.<kind>.<severity>].
    deadlines: dict[str, dict[str, str | dict[str, str]]]
    reminders: Reminders = Reminders()
    out_of_scope: list[OutOfScopeRule] = []
    intake: Intake = Intake()
    lifecycle: Lifecycle = Lifecycle()
    retention: Retention = Retention()
    reports: Reports = Reports()

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        self._check_departments()
        self._check_deadlines()
        for key in ("repeat_window", "reopen_window"):
            _check_duration(getattr(self.intake, key), f"intake.{key}")
        _check_duration(self.reminders.escalate_to_management_after,
                        "reminders.escalate_to_management_after")
        unknown_kinds = set(self.lifecycle.follow_up_kinds) - set(self.labels.kinds)
        if unknown_kinds:
            raise ValueError(f"lifecycle.follow_up_kinds: unknown kind {sorted(unknown_kinds)}")
        return self

    def _check_departments(self) -> None:
        known = set(self.departments)
        if self.routing.fallback not in known:
            raise ValueError(f"routing.fallback: no department {self.routing.fallback!r}")
        for number, rule in enumerate(self.routing.rules):
            for name in [rule.department, *rule.copy_to]:
                if name and name not in known:
                    raise ValueError(f"routing.rules.{number}: no department {name!r}")
            if rule.category and rule.category not in self.labels.categories:
                raise ValueError(f"routing.rules.{number}.category: unknown {rule.category!r}")
            if rule.kind and rule.kind not in self.labels.kinds:
                raise ValueError(f"routing.rules.{number}.kind: unknown {rule.kind!r}")

    def _check_deadlines(self) -> None:
        if "default" not in self.deadlines:
            raise ValueError("deadlines.default: missing")
        missing = set(STAGES) - set(self.deadlines["default"])
        if missing:
            raise ValueError(f"deadlines.default: missing stages {sorted(missing)}")
        for scope, limits in self.deadlines.items():
            if scope not in {"default", *self.labels.kinds, *self.labels.severities}:
                raise ValueError(f"deadlines.{scope}: not default, a kind or a severity")
            for key, value in limits.items():
                if isinstance(value, dict) and scope in self.labels.kinds:
                    if key not in self.labels.severities:
                        raise ValueError(f"deadlines.{scope}.{key}: not a severity")
                    for stage, text in value.items():
                        _check_stage(stage, text, f"deadlines.{scope}.{key}.{stage}")
                else:
                    _check_stage(key, value, f"deadlines.{scope}.{key}")

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar(
            tz=self.organisation.timezone,
            business_hours=[
                (time.fromisoformat(start), time.fromisoformat(end))
                for start, end in self.business_hours.hours
            ],
            extra_holidays=frozenset(self.business_hours.extra_holidays),
            extra_workdays=frozenset(self.business_hours.extra_workdays),
        )

    def stage_limits(self, kind: str, severity: str) -> dict[str, Duration]:
        """The limit of every stage for a case of this kind and severity."""
        by_kind = self.deadlines.get(kind, {})
        merged: dict[str, str] = {}
        for limits in (self.deadlines["default"], by_kind, self.deadlines.get(severity, {}),
                       by_kind.get(severity, {})):
            merged.update({stage: text for stage, text in limits.items() if isinstance(text, str)})
        return {stage: parse_duration(text) for stage, text in merged.items()}

    def department_title(self, code: str) -> str:
        department = self.departments.get(code)
        return department.name if department else code

    def label_title(self, code: str) -> str:
        return self.labels.titles.get(code, code)


def _check_stage(stage: str, text, key: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"{key}: unknown stage (stages: {', '.join(STAGES)})")
    if not isinstance(text, str):
        raise ValueError(f"{key}: a duration such as \"2 working days\"")
    _check_duration(text, key)


def _check_duration(text: str, key: str) -> None:
    try:
        parse_duration(text)
    except ValueError as error:
        raise ValueError(f"{key}: {error}") from None


def preset_names() -> list[str]:
    return sorted(path.stem for path in PRESET_DIR.glob("*.toml"))


def _merge(base: dict, override: dict) -> dict:
    """Tables merge key by key; any other value (lists included) replaces the base's."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_with_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if path in seen:
        raise ConfigError(f"{path}: extends: circular ({' -> '.join(map(str, seen))})")
    data = parse_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if parent not in preset_names():
        raise ConfigError(f"{path}: extends: no preset {parent!r} (have {', '.join(preset_names())})")
    return _merge(_read_with_extends(PRESET_DIR / f"{parent}.toml", (*seen, path)), data)


def load_policy(preset: str = "", path: str = "") -> Policy:
    """The policy from a file, or a shipped preset; errors name the file and the key."""
    if path:
        file = Path(path)
    else:
        name = preset or DEFAULT_PRESET
        if name not in preset_names():
            raise ConfigError(f"policy.preset: no preset {name!r} (have {', '.join(preset_names())})")
        file = PRESET_DIR / f"{name}.toml"
    data = _read_with_extends(file)
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(str(file), error)) from None
