"""`triage policy`: check and summarise an organisation's policy."""

from datetime import date
from importlib.metadata import version

import click

from models.base import utcnow
from worker.policy import Policy, load_policy, preset_names
from worker.workdays import has_statutory_data


@click.group("policy")
def group() -> None:
    """Validate and show complaint-handling policies."""


@group.command("check")
@click.option("--preset", type=click.Choice(preset_names()), help="A shipped preset.")
@click.option("--path", type=click.Path(dir_okay=False), help="A policy TOML file.")
def check(preset: str | None, path: str | None) -> None:
    """Validate a policy and print a readable summary; errors name the key."""
    if preset and path:
        raise click.UsageError("give --preset or --path, not both")
    policy = load_policy(preset or "", path or "")
    click.echo(summarise(policy))


def summarise(policy: Policy, today: date | None = None) -> str:
    org = policy.organisation
    today = today or utcnow().astimezone(policy.calendar.zone).date()
    lines = [
        f"organisation: {org.name} (desk {org.desk_address}, timezone {org.timezone})",
        f"kinds: {', '.join(policy.labels.kinds)}",
        f"categories: {', '.join(policy.labels.categories)}",
        f"severities: {', '.join(policy.labels.severities)}",
        "departments:",
    ]
    lines += [f"  {code:<17} {d.name}  <{d.address}>  head <{d.head}>"
              for code, d in policy.departments.items()]
    lines.append(f"routing: fallback {policy.routing.fallback}, {len(policy.routing.rules)} rule(s)")
    hours = ", ".join(f"{start}-{end}" for start, end in policy.business_hours.hours)
    lines.append(f"business hours: {hours}")
    lines += _statutory_calendar(policy, today)
    lines.append(f"case numbers: {policy.case_numbers.format}")
    thresholds = policy.thresholds.model_dump()
    lines.append("review thresholds: " + ", ".join(f"{k} {v:.2f}" for k, v in thresholds.items()))
    lines.append("stage limits (complaint, normal / major / urgent; inquiry, normal):")
    columns = [policy.stage_limits("complaint", s) for s in ("normal", "major", "urgent")]
    columns.append(policy.stage_limits("inquiry", "normal"))
    for stage in columns[0]:
        lines.append(f"  {stage:<12} " + " / ".join(str(c[stage]) for c in columns))
    privacy = policy.privacy
    lines.append(f"departments see: phone {privacy.phone}, address {privacy.address}, "
                 f"name {privacy.name}")
    lines.append(f"out of scope: {', '.join(r.name for r in policy.out_of_scope) or 'none'}")
    lines.append(f"retention: {policy.retention.years} years")
    lines.append("ok")
    return "\n".join(lines)


def _statutory_calendar(policy: Policy, today: date) -> list[str]:
    """This year's and next year's statutory calendar: deadlines run into next year from
    December, and the State Council publishes its holidays only late in the year before."""
    lines = []
    for year in (today.year, today.year + 1):
        if has_statutory_data(year):
            lines.append(f"statutory holidays {year}: from chinese_calendar")
            continue
        listed = [d for d in policy.business_hours.extra_holidays if d.year == year]
        lines.append(
            f"statutory holidays {year}: NOT KNOWN to chinesecalendar {version('chinesecalendar')}"
            f" — working days count Monday to Friday plus the policy's extra_holidays"
            f" ({len(listed)} in {year}) and extra_workdays; upgrade chinesecalendar once the"
            f" State Council has published {year}, or list its holidays and 调休 days in the policy")
    return lines
