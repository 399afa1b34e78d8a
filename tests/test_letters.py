"""Notices: every template renders in both scripts, headers are safe, privacy holds, dates are right."""

from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from email.policy import compat32
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.cases import Case
from models.mail import OutgoingMail
from worker.cases import letters
from worker.cases.deadlines import plan_handling, reminder_moment
from worker.config import SmtpConfig
from worker.mailer import WIRE, PermanentFailure, build_message, strict_address
from worker.notices import chinese_date, notice_names
from worker.policy import load_policy
from worker.privacy import complainant_for_department, mask_phone

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy("recycling")


def _case(**overrides) -> Case:
    values = dict(id=7, number="TS-20261122-0007", kind="complaint", category="service_quality",
                  department="operations", severity="normal", confidence={"kind": 0.93},
                  complainant_name="张女士", complainant_address="zhang@qq.com",
                  complainant_phones=["138 0013 8000"], subject="回收员迟到两小时", facts="约了上午十点，十二点才来。",
                  script="simplified", reopen_count=0, order_numbers=[], asks=["apology"],
                  complained_object="朝阳区3号回收站", needs_review=False,
                  first_message_id="<abc@qq.com>", reply_token="ts-20261122-0007.0123456789ab")
    values.update(overrides)
    return Case(**values)


def test_every_notice_has_a_template():
    assert set(notice_names()) == {
        "acknowledgement", "approval", "escalation", "extension", "follow_up", "forward",
        "mail_failed", "major_notice", "out_of_scope", "reminder", "reply", "too_large"}


def test_acknowledgement_names_the_case_and_the_promised_date():
    received = datetime(2026, 11, 20, 20, 0, tzinfo=SHANGHAI)
    promised = datetime(2026, 12, 1, 18, 0, tzinfo=SHANGHAI)
    draft = letters.acknowledgement(_case(), POLICY, "complaints+t@example.com", received, promised)
    assert draft.subject == "[TS-20261122-0007] 您的投诉已受理"
    assert "我们将在 2026年12月1日（星期二） 前给您答复" in draft.text
    assert "服务质量" in draft.text and "尊敬的张女士" in draft.text
    assert draft.headers == {"Reply-To": "complaints+t@example.com", "In-Reply-To": "<abc@qq.com>",
                             "References": "<abc@qq.com>"}
    assert "<strong>TS-20261122-0007</strong>" in draft.html


def test_traditional_writers_get_traditional_script():
    received = datetime(2026, 11, 20, 20, 0, tzinfo=SHANGHAI)
    draft = letters.acknowledgement(_case(script="traditional"), POLICY, "r@example.com", received, received)
    assert "您的投訴已受理" in draft.subject and "處理" in draft.text


def test_html_escapes_what_customers_wrote():
    case = _case(subject="<script>alert(1)</script>")
    received = datetime(2026, 11, 20, 20, 0, tzinfo=SHANGHAI)
    draft = letters.acknowledgement(case, POLICY, "r@example.com", received, received)
    assert "<script>" not in draft.html and "&lt;script&gt;" in draft.html


def test_forward_masks_the_phone_and_hides_the_address():
    reply_by = datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI)
    draft = letters.forward(_case(), POLICY, "r@example.com", reply_by, reply_by, "正文", ["照片.jpg"])
    assert draft.to == ["operations@recycling.example.com"]
    assert "138****8000" in draft.text and "13800138000" not in draft.text.replace(" ", "")
    assert "zhang@qq.com" not in draft.text
    assert "请于 2026年11月27日（星期五）18:00 前回复" in draft.text
    assert "延期 N 个工作日" in draft.text and "照片.jpg" in draft.text
    assert "投诉请求：道歉" in draft.text  # codes are shown in words


def test_a_complaint_about_staff_goes_to_the_head_not_the_shared_address():
    reply_by = datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI)
    case = _case(category="staff_misconduct", department="hr")
    draft = letters.forward(case, POLICY, "r@example.com", reply_by, reply_by, "回收员索要红包", [])
    assert draft.to == ["hr-head@recycling.example.com"]


def test_privacy_levels():
    assert mask_phone("138 0013 8000") == "138****8000"
    hall = load_policy("service_hall")
    seen = complainant_for_department(_case(), hall)
    assert seen == {"name": "张女士", "phones": [], "address": None}


@pytest.mark.parametrize("field, value", [("subject", "投诉\r\nBcc: all@example.com"),
                                          ("to", "a@example.com\r\nBcc: x@example.com")])
def test_no_header_injection(field, value):
    mail = OutgoingMail(id=1, kind="reply", to_addresses=["kehu@qq.com"], cc_addresses=[],
                        subject="s", body_text="t", body_html=None, headers={},
                        message_id="<x@example.com>")
    if field == "subject":
        mail.subject = value
    else:
        mail.to_addresses = [value]
    with pytest.raises(PermanentFailure):
        build_message(mail, SmtpConfig())


@pytest.mark.parametrize("text", ["a@b", "张三 <a@b.com>", "a@b.com, c@d.com", " a@b.com", ""])
def test_strict_addresses(text):
    with pytest.raises(PermanentFailure):
        strict_address(text)


def test_built_message_carries_loop_protection_and_both_parts():
    mail = OutgoingMail(id=1, kind="acknowledgement", to_addresses=["kehu@qq.com"], cc_addresses=[],
                        subject="[TS-1] 您的投诉已受理", body_text="正文", body_html="<p>正文</p>",
                        headers={"Reply-To": "complaints+t@example.com"}, message_id="<x@example.com>")
    parsed = message_from_bytes(bytes(build_message(mail, SmtpConfig())), policy=email_policy.default)
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["Subject"] == "[TS-1] 您的投诉已受理"
    assert parsed.get_body(("plain",)).get_content().strip() == "正文"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>正文</p>"


def test_both_parts_survive_a_body_that_quotes_the_boundary():
    mail = OutgoingMail(id=1, kind="reply", to_addresses=["kehu@qq.com"], cc_addresses=[],
                        subject="答复", body_text="", body_html="", headers={},
                        message_id="<boundary@example.com>")
    raw = build_message(mail, SmtpConfig())  # learn the boundary, then write it into both parts
    boundary = message_from_bytes(raw).get_boundary()
    mail.body_text = f"正文\n--{boundary}\n--{boundary}--\n"
    mail.body_html = f"<p>--{boundary}</p>"
    parsed = message_from_bytes(build_message(mail, SmtpConfig()), policy=email_policy.default)
    assert parsed.get_body(("plain",)).get_content() == mail.body_text
    assert parsed.get_body(("html",)).get_content().strip() == mail.body_html


ASCII_TEXT = st.text(st.characters(max_codepoint=0x7e, blacklist_categories=("Cc",)), max_size=40)


@settings(max_examples=300)
@given(name=st.sampled_from(["Subject", "To", "X-Loop", "Reply-To", "Message-ID", "Date"]),
       value=st.one_of(ASCII_TEXT, st.lists(ASCII_TEXT.filter(str.strip), max_size=20).map(" ".join)))
def test_headers_are_written_as_compat32_writes_them(name, value):
    """The shortcut for short ASCII values changes no byte."""
    message = Message()
    message[name] = value
    assert message.as_bytes(policy=WIRE) == message.as_bytes(policy=compat32.clone(linesep="\r\n"))


def test_deadlines_chain_across_national_day():
    opened = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)
    planned = {d.stage: d for d in plan_handling(POLICY, "complaint", "normal", opened)}
    # 2 working days from Tuesday 29 Sep: Wed 30 Sep, the holiday (1-7 Oct), then Thu 8 Oct.
    assert planned["dispatch"].due_at == datetime(2026, 10, 8, 18, 0, tzinfo=SHANGHAI)
    # +3: Fri 9 Oct, Sat 10 Oct (a make-up working day, 调休), Mon 12 Oct.
    assert planned["investigate"].due_at == datetime(2026, 10, 12, 18, 0, tzinfo=SHANGHAI)
    assert planned["investigate"].starts_at == planned["dispatch"].due_at
    assert planned["reply"].due_at > planned["answer"].due_at > planned["resolve"].due_at
    urgent = {d.stage: d for d in plan_handling(POLICY, "complaint", "urgent", opened)}
    assert urgent["dispatch"].due_at == opened


def test_reminder_at_three_quarters_of_business_time():
    start = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
    due = datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI)  # 7 business hours (lunch excluded)
    assert reminder_moment(POLICY, start, due) == datetime(2026, 11, 23, 15, 15, tzinfo=SHANGHAI)


def test_chinese_date():
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
    assert chinese_date(moment, SHANGHAI) == "2026年12月1日（星期二）"
    assert chinese_date(moment, SHANGHAI, with_time=True) == "2026年12月1日（星期二）10:00"
