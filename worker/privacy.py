"""What a department may see of the complainant (seed 000 第十九条: 不得泄露投诉人的个人信息)."""

from __future__ import annotations

import re

from models.cases import Case
from worker.policy import Policy


def mask_phone(phone: str) -> str:
    """138****8000: the first three and last four digits stay, the middle is hidden."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def complainant_for_department(case: Case, policy: Policy) -> dict:
    privacy = policy.privacy
    name = case.complainant_name or "（未署名）"
    if privacy.name == "surname" and case.complainant_name:
        name = case.complainant_name[0] + ("女士" if "女士" in name else "先生" if "先生" in name else "某")
    elif privacy.name == "hidden":
        name = "（已隐去）"
    phones = {"full": list(case.complainant_phones), "hidden": [],
              "masked": [mask_phone(p) for p in case.complainant_phones]}[privacy.phone]
    address = case.complainant_address if privacy.address == "full" else None
    return {"name": name, "phones": phones, "address": address}


def redact_for_department(text: str, case: Case, policy: Policy) -> str:
    """The complaint text as the department may read it: the complainant's own phone numbers
    and address are masked or removed as the policy says, wherever they appear."""
    for phone in case.complainant_phones:
        shown = {"full": phone, "masked": mask_phone(phone), "hidden": "[电话已隐去]"}[policy.privacy.phone]
        text = text.replace(phone, shown)
    if case.complainant_address and policy.privacy.address == "hidden":
        text = text.replace(case.complainant_address, "[邮箱已隐去]")
    return text
