"""Field extraction and severity signals on hand-written complaints."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from classifier import dataset
from classifier.extract import (
    Fields,
    amounts,
    asks,
    complained_object,
    extract_fields,
    person_name,
    phones,
)
from classifier.metrics import field_recall
from classifier.signals import detect, raise_severity

SHIPPED_CORPUS = Path(__file__).resolve().parent.parent / "classifier" / "data" / "corpus"

LABELS = ("major", "normal", "urgent")


# ------------------------------------------------------------------ phones


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("联系电话：13800138000", ["13800138000"]),
        ("电话 138 0013 8000，谢谢", ["138 0013 8000"]),
        ("手机139-1762-0384", ["139-1762-0384"]),
        ("请回电 +86 139 1234 5678", ["+86 139 1234 5678"]),
        ("+86-13912345678 或 0086 13912345678", ["+86-13912345678", "0086 13912345678"]),
        ("座机 010-62345678", ["010-62345678"]),
        ("前台 (0755)8888 6666 转总机", ["(0755)8888 6666"]),
        ("前台 （0755）88886666", ["（0755）88886666"]),
        ("杭州 0571-8765 4321", ["0571-8765 4321"]),
        ("021 5432 1098 找郑女士", ["021 5432 1098"]),
        ("太原 0351-7028 446", ["0351-7028 446"]),
        ("服务热线 400-820-8820", ["400-820-8820"]),
        ("陳生\n電話 9386 2041", ["9386 2041"]),
        ("黃太\n+852 6123 4587", ["+852 6123 4587"]),
        ("WhatsApp +85291234567", ["+85291234567"]),
        ("林先生 0912-345-678", ["0912-345-678"]),
        ("手機 0938-8214 577", ["0938-8214 577"]),
        ("聯絡電話：(02)2345-6789 分機 12", ["(02)2345-6789"]),
        ("台北 +886 2 2345 6789", ["+886 2 2345 6789"]),
        ("手機 +886 912 345 678", ["+886 912 345 678"]),
        ("家里电话 62345678", ["62345678"]),
        ("我父亲的电话是0731-85524470，我的电话是18673302218。", ["0731-85524470", "18673302218"]),
        ("杜先生 (0692)4128 836 / 139 8806 2714", ["(0692)4128 836", "139 8806 2714"]),  # 4-3
        ("黃先生 03-4251-870", ["03-4251-870"]),
    ],
)
def test_phones_in_every_format_are_found_as_written(text, expected):
    assert phones(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "运单号SF1402856673910已签收",  # digits inside a waybill number
        "订单号 2026031548726310",  # a long digit run
        "2025年10月19日上午10点",  # a date
        "退款1280元，余额3000元",  # amounts
        "单号 7720 3318 5064",  # grouped waybill digits
    ],
)
def test_numbers_that_are_not_phones_are_left_alone(text):
    assert phones(text) == []


# ------------------------------------------------------------------ order numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("运单号SF1402856673910，11月2号发出", ["SF1402856673910"]),
        ("圆通YT8829301746512到了吗", ["YT8829301746512"]),
        ("京东的件（运单号JDVA01583920417）", ["JDVA01583920417"]),
        ("中通单号：75312345678901", ["75312345678901"]),
        ("您反映的订单DD2025102688退款问题", ["DD2025102688"]),
        ("订单号：BJ20251021-0388\n你们小程序", ["BJ20251021-0388"]),
        ("合同号BJ-HT-2025-11-0456，从朝阳", ["BJ-HT-2025-11-0456"]),
        ("单号7720 3318 5064。这是", ["7720 3318 5064"]),
        ("單號：6630-2281-4407", ["6630-2281-4407"]),
        ("受理号BDC2026-031500412，当时", ["BDC2026-031500412"]),
        ("受理编号：370102-BDC-2026-004517，3月", ["370102-BDC-2026-004517"]),
        ("卡号HY2025110800123，余额1280元", ["HY2025110800123"]),
        ("会员号 VIP0038827651", ["VIP0038827651"]),
        ("邮件号 EA 736 204 519 CN。物流", ["EA 736 204 519 CN"]),
        ("顺丰 SF 3380 2217 6604 到了", ["SF 3380 2217 6604"]),
        ("案号（2026）京0105民初8832号", ["（2026）京0105民初8832号"]),
        ("my parcel (waybill SF1412097736628) was", ["SF1412097736628"]),
        ("查EMS单号1186392024571一直", ["1186392024571"]),
        ("运单号SF1318820476533、SF1318820476540", ["SF1318820476533", "SF1318820476540"]),
        ("英国寄来的包裹 UK002291847CN，国内段", ["UK002291847CN"]),
        ("我的件（4409 2756 1180 3），物流信息", ["4409 2756 1180 3"]),
        ("寄件編號 7720 3391 0582、7720 3391 0617", ["7720 3391 0582", "7720 3391 0617"]),
        ("团号 XA-20251003-A12，一共31人", ["XA-20251003-A12"]),
        ("团购券，券码 GB8830291746，页面上", ["GB8830291746"]),
        ("票号 781-2390045618", ["781-2390045618"]),
        ("月结号 0311887205），主要发", ["0311887205"]),
        ("货票号 K0392186），今天", ["K0392186"]),
        ("登記編號係 CP-0327-15。唔該", ["CP-0327-15"]),  # 係: Cantonese 是
        ("會員號碼係 HKM0092735。唔該", ["HKM0092735"]),
        ("我家户号 0102338746，水表", ["0102338746"]),
        ("住院号 ZY0920417 患者家属", ["ZY0920417"]),
        ("訂位代號 07352918 江俊毅", ["07352918"]),
        ("商家ID 882036 喵星人宠物用品", ["882036"]),
        ("booking ref: 8851-2204 Alan Wu", ["8851-2204"]),
        ("booking號碼 HKH-902217。我", ["HKH-902217"]),
        ("帳戶號碼 HK-BB-7730215 何小姐", ["HK-BB-7730215"]),
        ("会员号 VIP 3320 1179 06。7月", ["VIP 3320 1179 06"]),
        ("租赁合同 CC-2023-046 存放", ["CC-2023-046"]),
        ("戶口號碼 012-583-1-044921 黃生", ["012-583-1-044921"]),  # 戶口: a Hong Kong bank account
        ("拿了泊车牌 VP-0830-117。取车时", ["VP-0830-117"]),
        ("票号是 781-5582190476 和 781-5582190477。", ["781-5582190476", "781-5582190477"]),
    ],
)
def test_order_and_waybill_numbers(text, expected):
    assert extract_fields("", text).order_numbers == expected


@pytest.mark.parametrize(
    "text",
    [
        "合同是156800，发票是157800",  # a price after 合同: contracts need a code with letters
        "我的門號合約是 2023 年 10 月簽的",
        "订单尾号 6630，时间",  # the last digits identify no order
        "合同2024年签的",
    ],
)
def test_prices_years_and_number_tails_are_not_orders(text):
    assert extract_fields("", text).order_numbers == []


def test_standards_case_numbers_and_id_cards_are_not_orders():
    text = "执行GB18401-2010标准。身份证号110101199003074518。Re: 投诉已受理 TS-20260312-0021"
    assert extract_fields("", text).order_numbers == []


def test_a_member_number_that_is_a_mobile_is_both():
    fields = extract_fields("", "会员号 13800138000 就是我的手机号")
    assert fields.order_numbers == ["13800138000"]
    assert fields.phones == ["13800138000"]


# ------------------------------------------------------------------ amounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("多收了80元", [Decimal(80)]),
        ("余额1,280元", [Decimal(1280)]),
        ("800块包过", [Decimal(800)]),
        ("¥299.5 和 RMB 1200", [Decimal("299.5"), Decimal(1200)]),
        ("损失2万元", [Decimal(20000)]),
        ("索赔1.5万", [Decimal(15000)]),
        ("两万多块台币", [Decimal(20000)]),
        ("三千五百元", [Decimal(3500)]),
        ("一万五千元", [Decimal(15000)]),
        ("港幣500", [Decimal(500)]),
        ("碎成好几块，两块玻璃，3万公里", []),
    ],
)
def test_amounts(text, expected):
    assert amounts(text) == expected


# ------------------------------------------------------------------ asks


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请尽快退款。", ["refund"]),
        ("要求赔偿损失并书面道歉！", ["compensation", "apology"]),
        ("希望重新安排上门回收。", ["redo_service"]),
        ("请给我一个说法。", ["explanation"]),
        ("希望对该员工进行批评教育。", ["punish_staff"]),
        ("麻烦派师傅上门维修。", ["repair"]),
        ("要求换货。", ["replace"]),
        ("请补开发票。", ["invoice"]),
        ("请问进度如何？", ["information"]),
        ("我不要求赔偿，但希望严肃处理。", ["punish_staff"]),
        ("上次师傅维修得很好。", []),
    ],
)
def test_asks(text, expected):
    assert asks(text) == expected


# ------------------------------------------------------------------ object and name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我在朝阳区双井回收站交售废品，称重少了", "朝阳区双井回收站"),
        ("我家楼下的菜鸟驿站把件弄丢了", "菜鸟驿站"),
        ("5号窗口的工作人员态度很差", "5号窗口"),
        ("派件快递员（工号尾数为37）扔件", "工号尾数为37"),
        ("36路公交司机不等人就关门", "36路公交"),
        ("望京网点的人推诿", "望京网点"),
        ("那个李师傅上门迟到两小时", "李师傅"),
        ("服务很好，谢谢", None),
    ],
)
def test_complained_object(text, expected):
    assert complained_object(text) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("……希望核实。\n\n此致\n敬礼\n\n刘女士\n2025年10月19日", "刘女士"),
        ("……规范服务用语。\n此致\n敬礼！\n刘建平\n2025年9月18日", "刘建平"),
        ("希望领导表扬一下她。孙丽", "孙丽"),
        ("请尽快处理\n联系人：冯先生 185 0211 7736", "冯先生"),
        ("这么晚了还没到\n13601859327 许女士", "许女士"),
        ("唔該跟進。\n黃小姐\n9123 4567", "黃小姐"),
        ("谢谢！——小周", "小周"),
        ("上海某某科技有限公司 行政部 何晓", "何晓"),
        ("Thanks,\nDavid Miller", "David Miller"),
        ("孙女士 闵行区", "孙女士"),
        ("你们就是这么为人民服务的？？", None),
        ("谢谢", None),
    ],
)
def test_person_name_from_the_signature(body, expected):
    assert person_name(body) == expected


def test_display_name_wins_when_it_looks_like_a_person():
    assert person_name("……\n王女士", display_name="张建国") == "张建国"
    assert person_name("……\n王女士", display_name="客服部") == "王女士"


def test_extract_fields_returns_every_field():
    fields = extract_fields(
        "投诉回收站称重缺斤少两",
        "我在朝阳区双井回收站卖废纸，称重少了5公斤，订单号HS20261103001。"
        "要求退还多扣的30元并道歉。\n张女士 138 0013 8000",
    )
    assert fields == Fields(
        name="张女士",
        phones=["138 0013 8000"],
        order_numbers=["HS20261103001"],
        amounts=[Decimal(30)],
        asks=["refund", "apology"],
        object="朝阳区双井回收站",
    )


# ------------------------------------------------------------------ severity signals


@pytest.mark.parametrize(
    ("text", "name", "level"),
    [
        ("再不处理我就联系媒体曝光", "media", "major"),
        ("我会发到抖音上", "media", "major"),
        ("只能请律师起诉你们", "lawsuit", "major"),
        ("我已经报警了", "lawsuit", "major"),
        ("本周五之前再不到账我直接打12315投诉", "regulator", "major"),
        ("我会向邮政管理局申诉", "regulator", "major"),
        ("我们小区多名业主联名投诉", "group", "major"),
        ("这是我第三次投诉了", "repeat", "major"),
        ("这件事我已经多次投诉", "repeat", "major"),
        ("这已经是第二次改时间了", "repeat", "major"),
        ("沙发延期，第三次了", "repeat", "major"),
        ("這種情況已經發生三次了", "repeat", "major"),
        ("阿姨又没来！！！第二次了！！！", "repeat", "major"),
        ("要求赔偿损失5万元", "large_compensation", "major"),
        ("燃气灶装好后一直漏气，有煤气味", "safety", "urgent"),
        ("插座漏电，孩子被电击了", "safety", "urgent"),
        ("快递柜门弹回来把我女儿的手夹伤了", "safety", "urgent"),
        ("回收站门口电线冒火花，存在安全隐患", "safety", "urgent"),
    ],
)
def test_signals(text, name, level):
    found = {signal.name: signal for signal in detect(text)}
    assert name in found
    assert found[name].level == level
    assert found[name].evidence in text


@pytest.mark.parametrize(
    "text",
    [
        "所幸没有受伤",  # negated
        "如果在我家干活的时候受伤了，谁负责？",  # hypothetical
        "新闻上说你们的转运中心着火了，我的件没事吧？",  # hearsay
        "订单号SC2025100812345",  # 12345 inside a number
        "在市场监管窗口办理营业执照",  # a regulator's window, not a threat
        "排队排到第40多位",  # not a group of complainants
        "要求赔偿200元",  # compensation, but small
        "快递三天没动静，麻烦查一下",
        "约了两次都没来，打了五次电话",  # attempts within one case (LABELING §5)
        "第一次来没带工具，第二次来又说缺零件",  # told step by step
    ],
)
def test_no_signal(text):
    assert detect(text) == []


def test_a_signal_raises_severity_but_never_lowers_it():
    major = detect("我要打12315")
    urgent = detect("漏电了")
    assert raise_severity("normal", major, LABELS) == "major"
    assert raise_severity("urgent", major, LABELS) == "urgent"
    assert raise_severity("major", urgent, LABELS) == "urgent"
    assert raise_severity("normal", [], LABELS) == "normal"
    # another organisation's labels are left alone
    assert raise_severity("一般", major, ("一般", "重大")) == "一般"


def test_phone_and_order_number_recall_on_the_shipped_corpus():
    recall = field_recall(dataset.read_rows([SHIPPED_CORPUS]))
    for column in ("phones", "order_numbers"):
        assert recall[column]["listed"] > 1000, column
        assert recall[column]["recall"] >= 0.98, (column, recall[column])
