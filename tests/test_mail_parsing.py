"""Reading real-looking mails from tests/data: charsets, quotes, HTML, attachments, headers."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.mail.attachments import FALLBACK_NAME, safe_filename
from worker.mail.charset import decode_bytes, decode_header_value, header_param
from worker.mail.html import html_to_text
from worker.mail.normalize import detect_script, normalize_text
from worker.mail.parse import ParsedMail, UnparseableMail, parse_message
from worker.mail.quotes import strip_quoted

DATA = Path(__file__).parent / "data"
EML_NAMES = sorted(path.name for path in DATA.glob("*.eml"))
JPEG_START = b"\xff\xd8\xff"


@cache
def mail(name: str) -> ParsedMail:
    return parse_message((DATA / name).read_bytes())


# --- every file ------------------------------------------------------------


def test_there_are_enough_test_mails():
    assert len(EML_NAMES) >= 25


@pytest.mark.parametrize("name", EML_NAMES)
def test_every_mail_decodes_cleanly(name):
    parsed = mail(name)
    for text in (parsed.subject, parsed.from_name, parsed.body_text, parsed.full_text):
        assert "\ufffd" not in text
        assert not any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text), "surrogate-escaped bytes left"
    assert parsed.subject
    assert "@" in parsed.from_address and parsed.from_address == parsed.from_address.lower()
    assert parsed.date is None or parsed.date.tzinfo is not None
    for attachment in parsed.attachments:
        assert attachment.safe_name == safe_filename(attachment.safe_name)


def test_parsed_mail_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        mail("utf8_base64.eml").subject = "changed"  # type: ignore[misc]


# --- charsets --------------------------------------------------------------


def test_qqmail_gbk_labelled_gb2312():
    parsed = mail("qqmail_gbk_labelled_gb2312.eml")
    assert parsed.subject == "投诉：望京回收站称重缺斤少两，站长态度恶劣（王喆）"
    assert (parsed.from_name, parsed.from_address) == ("王喆", "wangzhe1990@qq.com")
    assert "站长朱镕（工牌号 HS-0317）" in parsed.body_text
    assert "我叫王喆" in parsed.body_text
    assert parsed.headers.first("X-Mailer") == "QQMail 2.x"
    assert any("gb18030" in note for note in parsed.charset_notes)
    assert parsed.date is not None and parsed.date.utcoffset() == timedelta(hours=8)


def test_big5_traditional_hk_with_hkscs_characters():
    parsed = mail("big5_traditional_hk.eml")
    assert parsed.subject == "投訴：冷氣安裝師傅遲到兼整爛窗框"
    assert parsed.from_name == "陳大文"
    assert "我係住喺沙田嘅陳先生" in parsed.body_text
    assert "一啲解釋都冇" in parsed.body_text
    assert any("big5hkscs" in note for note in parsed.charset_notes)
    assert detect_script(parsed.body_text) == "traditional"


def test_utf8_base64():
    parsed = mail("utf8_base64.eml")
    assert parsed.subject == "快递包裹破损，要求赔偿"
    assert parsed.from_name == "刘洋"
    assert "运单号 YT7501234567890" in parsed.body_text
    assert parsed.charset_notes == ()


def test_utf8_quoted_printable():
    parsed = mail("utf8_quoted_printable.eml")
    assert parsed.subject == "投诉：热水器安装师傅私自收取材料费"
    assert parsed.from_name == "赵敏"
    assert "“材料费”350元" in parsed.body_text
    assert not parsed.html_only


def test_no_charset_label_gb18030():
    parsed = mail("no_charset_label_gb18030.eml")
    assert parsed.subject == "网站投诉表单：回收价格与宣传不符"
    assert "“旧手机最高回收价800元”" in parsed.body_text
    assert "😡" in parsed.body_text  # a four-byte GB18030 sequence
    assert parsed.reply_to == ("huangxm@sina.com",)
    assert any("no charset label" in note for note in parsed.charset_notes)


def test_wrong_label_utf8_says_gbk():
    parsed = mail("wrong_label_utf8_says_gbk.eml")
    assert parsed.subject == "咨询：大件家具上门回收是否收费"
    assert parsed.from_name == "孙丽"
    assert "要收100元搬运费" in parsed.body_text
    assert any("UTF-8" in note for note in parsed.charset_notes)


def test_latin1_label_over_gbk_body():
    parsed = mail("latin1_label_gbk_body.eml")
    assert parsed.subject == "预约被系统自动取消"
    assert "预约了三次都被系统自动取消" in parsed.body_text


def test_rfc2047_split_multibyte_subject():
    parsed = mail("rfc2047_split_multibyte_subject.eml")
    assert parsed.subject == "投诉：回收站工作人员索要好处费"
    # GBK 镕 split over two gb2312-labelled words.
    assert parsed.from_name == "朱镕"
    assert "好处费" in parsed.body_text


def test_raw_8bit_headers_and_unparseable_date():
    parsed = mail("raw_8bit_headers_bad_date.eml")
    assert parsed.from_name == "谢女士"
    assert parsed.subject == "回收站没按时开门"
    assert parsed.date is None
    assert parsed.headers.first("From") == "谢女士 <xie.ns@example-isp.cn>"
    assert parsed.headers.first("Date") == "2026年11月11日 09:09"


def test_traditional_taiwan_complaint():
    parsed = mail("traditional_taiwan_complaint.eml")
    assert parsed.subject == "申訴：資源回收站人員態度惡劣且拒收紙類"
    assert "說「這種東西我們不收」" in parsed.body_text
    assert detect_script(parsed.body_text) == "traditional"
    normalized = normalize_text(parsed.body_text)
    assert "资源回收站" in normalize_text(parsed.subject)
    assert "纸箱和宝特瓶" in normalized
    assert "贵公司网站上明明写" in normalized and "說" not in normalized


# --- quoted history, signatures, HTML ---------------------------------------


def test_foxmail_reply_quoted_original():
    parsed = mail("foxmail_reply_quoted_original.eml")
    assert "这已经是第二次爽约了" in parsed.body_text
    assert "原始邮件" not in parsed.body_text
    assert "我们将在1个工作日内与您联系" not in parsed.body_text
    assert "我们将在1个工作日内与您联系" in parsed.full_text
    assert parsed.in_reply_to == "<20261102093012.TS-20261102-0003.ack@lvyuan-huishou.com>"


def test_outlook_reply_fajianren_block():
    parsed = mail("outlook_reply_fajianren_block.eml")
    assert "请尽快安排维修并赔偿" in parsed.body_text
    assert parsed.body_text.endswith("李娜\n139-1000-2233")
    assert "发件人" not in parsed.body_text and "转交售后服务部" not in parsed.body_text
    assert parsed.cc == ("wang.fang@example-corp.com",)
    assert parsed.from_address == "li.na@example-corp.com"


def test_outlook_english_original_message():
    parsed = mail("outlook_english_original_message.eml")
    assert "数据销毁证明" in parsed.body_text
    assert "Kevin Xu" in parsed.body_text
    assert "Original Message" not in parsed.body_text
    assert "预计三个工作日内寄出" not in parsed.body_text


def test_iphone_reply_zai_xiedao():
    parsed = mail("iphone_reply_zai_xiedao.eml")
    assert parsed.body_text.startswith("好的，快递单号是 SF1402837465123。")
    assert "发自我的iPhone" not in parsed.body_text
    assert "写道" not in parsed.body_text and "请提供快递单号" not in parsed.body_text
    assert parsed.headers.first("x-mailer").startswith("iPhone Mail")


def test_customer_adds_info_case_number_subject():
    parsed = mail("customer_adds_info_case_number_subject.eml")
    assert parsed.subject == "Re: [TS-20261122-0007] 您的投诉已受理"
    assert "YT9988776655" in parsed.body_text
    assert "177 0101 2020" in parsed.body_text
    assert "原始邮件" not in parsed.body_text
    assert parsed.references == ("<20261122100501.TS-20261122-0007.ack@lvyuan-huishou.com>",)


def test_netease163_forward_zhuanfa():
    parsed = mail("netease163_forward_zhuanfa.eml")
    assert parsed.body_text == "请看下面我上周发的投诉，到现在都没有回复！再不处理我就打12315了。"
    assert "转发邮件信息" in parsed.full_text and "废旧电池" in parsed.full_text


def test_netease_master_mobile_signature():
    parsed = mail("netease_master_mobile_signature.eml")
    assert "嫌我家是六楼没电梯" in parsed.body_text
    assert "150 1234 5678" not in parsed.body_text
    assert "发自网易邮箱大师" not in parsed.body_text


def test_netease163_html_only():
    parsed = mail("netease163_html_only.eml")
    assert parsed.html_only and parsed.content_type == "text/html"
    assert "“签收人”一栏写的是“门卫”" in parsed.body_text
    assert "订单号 DD202610280091" in parsed.body_text
    assert "陈静\n电话：186 0021 7788" in parsed.body_text
    assert "font-size" not in parsed.full_text and "<" not in parsed.full_text


def test_qqmail_html_only_reply_includetail():
    parsed = mail("qqmail_html_only_reply_includetail.eml")
    assert parsed.html_only
    assert parsed.body_text == ("回收站的称重问题还没解决，今天我又去了一次，秤还是不准，差了将近3公斤。"
                                "\n\n请你们派人去现场核查！")
    assert "核查该站点的电子秤" in parsed.full_text


def test_empty_body_subject_only():
    parsed = mail("empty_body_subject_only.eml")
    assert parsed.subject == "投诉：望京回收站今天又没开门"
    assert parsed.body_text == parsed.full_text == ""
    assert parsed.attachments == ()


# --- attachments -----------------------------------------------------------


def test_rfc2231_chinese_attachment():
    attachments = mail("rfc2231_chinese_attachment.eml").attachments
    assert [a.filename for a in attachments] == ["投诉材料.pdf", "快递破损照片（一）.jpg", "收据_王喆.png"]
    assert [a.safe_name for a in attachments] == [a.filename for a in attachments]
    assert [a.content_type for a in attachments] == ["application/pdf", "image/jpeg", "image/png"]
    assert attachments[0].data.startswith(b"%PDF-1.4")
    assert attachments[1].data.startswith(JPEG_START)


def test_attachment_path_traversal_name():
    attachments = mail("attachment_path_traversal_name.eml").attachments
    assert attachments[0].filename == "../../etc/passwd"
    assert [a.safe_name for a in attachments[:4]] == ["passwd", "投诉.bat", "evil.pdf.exe", "照片gpj.exe"]
    long_name = attachments[4].safe_name
    assert long_name.startswith("关于回收站") and long_name.endswith(".pdf")
    assert len(long_name.encode("utf-8")) <= 200
    for attachment in attachments:
        assert "/" not in attachment.safe_name and "\\" not in attachment.safe_name
        assert not attachment.safe_name.startswith(".") and ".." not in attachment.safe_name


def test_apple_mail_related_inline_image():
    parsed = mail("apple_mail_related_inline_image.eml")
    assert not parsed.html_only
    assert "洗衣机安装后漏水" in parsed.body_text
    assert [a.safe_name for a in parsed.attachments] == ["IMG_0231.jpeg", "attachment.jpg"]
    assert parsed.attachments[1].filename == ""


def test_forward_as_attachment_rfc822():
    parsed = mail("forward_as_attachment_rfc822.eml")
    assert parsed.body_text.startswith("客服您好，我上周的投诉邮件附在后面")
    (forwarded,) = parsed.attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.safe_name == "投诉：回收站拒收旧电池.eml"
    assert "旧电池直接扔进了普通垃圾桶" in parse_message(forwarded.data).body_text


# --- broken mail -----------------------------------------------------------


def test_broken_mime_missing_boundary():
    parsed = mail("broken_mime_missing_boundary.eml")
    assert "门口堆的垃圾已经一个星期没人清理了" in parsed.body_text
    assert "Content-Type" not in parsed.body_text
    (photo,) = parsed.attachments
    assert photo.filename == "IMG_20261108_182933.jpg"
    assert photo.data.startswith(JPEG_START)
    assert any("boundary" in note for note in parsed.charset_notes)


def test_truncated_mail_cut_in_attachment():
    parsed = mail("truncated_mail_cut_in_attachment.eml")
    assert "回收站收了我的旧电瓶却没付钱" in parsed.body_text
    assert [a.safe_name for a in parsed.attachments] == ["receipt.jpg"]


def test_truncated_encoded_name_falls_back_when_mailparser_fails():
    parsed = mail("truncated_encoded_name_mailparser_fails.eml")
    assert parsed.charset_notes[0].startswith("mail-parser failed (HeaderParseError)")
    assert parsed.from_name == "广州市天河区华景新城业主委"  # as much as the cut word holds
    assert parsed.from_address == "yezhuhui@hjxc-yzh.example"
    assert parsed.subject == "关于回收站清晨噪音扰民的联名投诉"
    assert "已有三十多户业主联名投诉" in parsed.body_text


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\xff\xfe garbage without headers", b"no colon here"])
def test_nothing_usable_is_unparseable(raw):
    with pytest.raises(UnparseableMail):
        parse_message(raw)


# --- machine mail: the headers loop detection reads -------------------------


def test_auto_reply_out_of_office():
    parsed = mail("auto_reply_out_of_office.eml")
    assert parsed.headers["Auto-Submitted"] == ("auto-replied",)
    assert parsed.headers["auto-submitted"] == parsed.headers["AUTO-SUBMITTED"]
    assert parsed.headers.first("X-Auto-Response-Suppress") == "All"
    assert parsed.subject.startswith("自动回复: [TS-20261105-0021]")
    assert parsed.in_reply_to == "<20261105100221.TS-20261105-0021.ack@lvyuan-huishou.com>"
    assert parsed.date is not None and parsed.date.utcoffset() == timedelta(0)


def test_auto_reply_no_header_outlook():
    parsed = mail("auto_reply_no_header_outlook.eml")
    assert "Auto-Submitted" not in parsed.headers
    assert "OOF" in parsed.headers.first("X-Auto-Response-Suppress")
    assert parsed.headers.first("Precedence") == "auto_reply"
    assert parsed.subject == "自动答复: 关于望京回收站的投诉转办"


def test_bounce_mailer_daemon_report():
    parsed = mail("bounce_mailer_daemon_report.eml")
    assert parsed.is_report and parsed.content_type == "multipart/report"
    assert parsed.headers["Return-Path"] == ("<>",)
    assert parsed.from_address == "mailer-daemon@mx1.lvyuan-huishou.com"
    assert "550 Mailbox not" in parsed.body_text
    status, original = parsed.attachments
    assert status.safe_name == "delivery-status.txt"
    assert b"Final-Recipient: rfc822; wrong-address@qq.com" in status.data
    assert original.safe_name == "[TS-20261107-0002] 您的投诉已受理.eml"
    returned = parse_message(original.data)
    assert returned.message_id == "<20261107100000.TS-20261107-0002.ack@lvyuan-huishou.com>"
    assert "投诉编号 TS-20261107-0002" in returned.body_text


def test_mailing_list_newsletter():
    parsed = mail("mailing_list_newsletter.eml")
    assert parsed.headers.first("List-Id") == '"example-mall promotions" <promo.list.example-mall.cn>'
    unsubscribe = parsed.headers.first("List-Unsubscribe")
    assert "mailto:" in unsubscribe and "https://" in unsubscribe and "\n" not in unsubscribe
    assert parsed.headers.first("Precedence") == "bulk"
    assert parsed.from_name == "家信电器商城"
    assert not parsed.is_report


def test_person_mail_is_not_a_report():
    assert not any(mail(name).is_report for name in EML_NAMES if "bounce" not in name)


# --- pure functions on their own -------------------------------------------


@pytest.mark.parametrize("text, kept, gone", [
    ("我已经等了三天。\n\nOn Tue, Nov 3, 2026 at 10:12 AM 客服 <tousu@lvyuan-huishou.com>\n"
     "wrote:\n\n> 旧内容", "我已经等了三天。", "旧内容"),
    ("新的情况。\n> 第一行引用\n> 第二行引用\n补充一句。", "补充一句。", "引用"),
    ("请回电。\n-- \n张三 138 0000 0000", "请回电。", "138"),
    ("请回电。\n\nSent from my iPhone", "请回电。", "iPhone"),
    ("请回电。\n\n来自 QQ邮箱", "请回电。", "QQ邮箱"),
    ("请回电。\n\nFrom: 客服 <a@b.cn>\nSent: Monday, November 2, 2026 9:30 AM\nTo: 张三\n"
     "Subject: 受理\n\n旧内容", "请回电。", "旧内容"),
    ("宣传单上写道：\n“免费上门回收”，但实际收费。", "“免费上门回收”，但实际收费。", "\0"),
    ("我发自我的内心感到失望。", "我发自我的内心感到失望。", "\0"),
    ("-----Original Message-----\nFrom: a@b.cn\nSent: x\nTo: y\n\n只有引用", "只有引用", "\0"),
])
def test_strip_quoted(text, kept, gone):
    stripped = strip_quoted(text)
    assert kept in stripped
    assert gone not in stripped


def test_strip_quoted_never_strips_everything():
    only_quotes = "> 全部都是引用\n> 第二行"
    assert strip_quoted(only_quotes) == only_quotes


def test_html_to_text():
    html = ("<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
            "<div>第一行&nbsp;&amp;&lt;b&gt;</div><div>第二行<br>第三行</div>"
            "<p>段落</p><blockquote>引用的旧邮件</blockquote></body></html>")
    assert html_to_text(html) == "第一行 &<b>\n第二行\n第三行\n\n段落\n\n引用的旧邮件"
    assert "引用的旧邮件" not in html_to_text(html, drop_quoted=True)
    assert "alert" not in html_to_text(html) and "color" not in html_to_text(html)


def test_normalize_text():
    assert normalize_text("貴公司回收站") == "贵公司回收站"
    assert normalize_text("ＡＢＣ１２３！　ｘ") == "ABC123! x"
    assert normalize_text("价格。【收据】、“发票”") == "价格。【收据】、“发票”"
    assert normalize_text("第一行   有   空格\n\n\n\n第二行\t\t结束  ") == "第一行 有 空格\n\n第二行 结束"


def test_detect_script():
    assert detect_script("请贵公司调查此事，并给我一个合理的说明。") == "simplified"
    assert detect_script("請貴公司調查此事，並給我一個合理的說明。") == "traditional"
    assert detect_script("Hello, 12345") == "simplified"
    # One traditional character in a simplified name does not make the text traditional.
    assert detect_script("我叫于乾，住在朝阳区，投诉回收站的工作人员态度恶劣，请尽快处理。") == "simplified"


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\x", "x"),
    ("C:\\Users\\王喆\\投诉.pdf", "投诉.pdf"),
    ("evil\x00name.pdf", "evilname.pdf"),
    ("line\r\nbreak.txt", "linebreak.txt"),
    ("", FALLBACK_NAME),
    ("..", FALLBACK_NAME),
    ("/", FALLBACK_NAME),
    (".bashrc", "bashrc"),
    ("a..b....pdf", "a.b.pdf"),
    ("CON.txt", "_CON.txt"),
    ('what?"<>|*.doc', "what______.doc"),
    ("投诉 材料.pdf", "投诉 材料.pdf"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_caps_long_names_and_keeps_the_extension():
    for stem in ("报" * 300, "a" * 1000):
        name = safe_filename(stem + ".pdf")
        assert name.endswith(".pdf") and len(name.encode("utf-8")) <= 200
        assert name[:-4] == stem[: len(name) - 4]


def test_decode_header_value_joins_words_split_inside_a_character():
    data = "朱镕基".encode("gbk")
    words = [f"=?gb2312?B?{base64.b64encode(chunk).decode()}?=" for chunk in (data[:3], data[3:])]
    assert decode_header_value("\r\n ".join(words)).text == "朱镕基"
    assert decode_header_value("Re: =?utf-8?q?=E6=8A=95?= =?utf-8?q?=E8=AF=89?= ok").text == "Re: 投诉 ok"


def test_decode_bytes_drops_a_character_cut_off_at_the_end():
    decoded = decode_bytes("快递破损".encode("gbk")[:-1], "gbk")
    assert decoded.text == "快递破"
    assert decoded.notes == ("a character cut off at the end was dropped",)


def test_decode_bytes_notes_gbk_characters_under_a_gb2312_label():
    assert decode_bytes("王喆".encode("gbk"), "gb2312").notes == (
        "labelled 'gb2312' but holds characters beyond it; decoded as gb18030",)
    assert decode_bytes("王先生".encode("gbk"), "gb2312").notes == ()


def test_header_param_rfc2231_continuations():
    raw = "attachment;\r\n filename*0*=UTF-8''%E6%8A%95%E8%AF%89; filename*1*=%E5%8D%95;\r\n filename*2=.pdf"
    assert header_param(raw, "filename").text == "投诉单.pdf"
    assert header_param('attachment; filename="plain name.pdf"', "filename").text == "plain name.pdf"
    assert header_param("attachment", "filename") is None


@pytest.mark.parametrize("text, encoding, label", [
    ("朱镕基和王喆的投诉", "gbk", "gb2312"),
    ("我係住喺沙田嘅陳先生，請盡快處理", "big5hkscs", "big5"),
    ("请尽快处理快递破损的问题", "utf-8", "gbk"),
    ("请尽快处理快递破损的问题", "gbk", None),
    ("請盡快處理快遞破損的問題", "big5", None),
    ("请尽快处理快递破损的问题", "gbk", "big5"),
    ("请尽快处理快递破损的问题", "gbk", "x-no-such-charset"),
    ("请尽快处理快递破损的问题", "gbk", "iso-8859-1"),
])
def test_decode_bytes_recovers_from_wrong_labels(text, encoding, label):
    assert decode_bytes(text.encode(encoding), label).text == text


# --- robustness ------------------------------------------------------------

_TOKENS = [b"=?", b"?=", b"\r\n", b"\r\n\r\n", b"--", b";", b'"', b"*0*=", b"\x00", b"\xff",
           b"=?gbk?B?", b"boundary=", b"Content-Type: multipart/mixed\r\n", b"%", b"'",
           b"Content-Type: message/rfc822\r\n", b"filename*=UTF-8''%E6", b"charset=\x00"]
_MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["replace", "insert", "delete", "repeat"]),
              st.integers(0, 1 << 20), st.integers(1, 400),
              st.one_of(st.sampled_from(_TOKENS), st.binary(min_size=1, max_size=8))),
    min_size=1, max_size=8,
)


def _mutate(raw: bytes, mutations) -> bytes:
    data = bytearray(raw)
    for kind, position, length, chunk in mutations:
        at = position % (len(data) + 1)
        if kind == "replace":
            data[at:at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at:at + length]
        else:
            data[at:at] = data[at:at + length]
    return bytes(data)


def _parse_or_unparseable(raw: bytes) -> None:
    try:
        parse_message(raw)
    except UnparseableMail:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_raise_nothing_but_unparseable(raw):
    _parse_or_unparseable(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EML_NAMES), _MUTATIONS)
def test_mutated_test_mails_raise_nothing_but_unparseable(name, mutations):
    _parse_or_unparseable(_mutate((DATA / name).read_bytes(), mutations))


def test_intake_reads_the_senders_words_else_all_the_text():
    with_words = mail("netease163_forward_zhuanfa.eml")
    assert with_words.text == with_words.body_text
    # A forward with nothing written above it: the forwarded complaint is what there is to read.
    bare = dataclasses.replace(with_words, body_text="  \n")
    assert bare.text == with_words.full_text.strip()
    assert "废旧电池" in bare.text
