"""Case fields read out of a complaint by regular expressions and small rules.

`extract_fields(subject, body, display_name)` returns `Fields`: the
complainant's name, phone numbers and order / waybill numbers exactly as
written, amounts of money as numbers, what the complainant asks for, and the
object complained about. Pure: no I/O, no model. Works on simplified and
traditional text alike; full-width digits and brackets are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

ASKS = (
    "refund",
    "compensation",
    "apology",
    "redo_service",
    "explanation",
    "punish_staff",
    "repair",
    "replace",
    "invoice",
    "information",
)


@dataclass(frozen=True)
class Fields:
    name: str | None
    phones: list[str]
    order_numbers: list[str]
    amounts: list[Decimal]
    asks: list[str]
    object: str | None


def extract_fields(subject: str, body: str, display_name: str | None = None) -> Fields:
    text = f"{subject or ''}\n{body or ''}"
    orders = order_numbers(text)
    # 会员号 13800138000 (就是我的手机号) is both a member number and a phone.
    taken = [span for number, span in orders if not _MOBILE_ONLY.fullmatch(number)]
    phone_hits = _phones(text, taken)
    taken += [span for _, span in phone_hits]
    orders = sorted(orders + _bare_numbers(text, taken), key=lambda hit: hit[1])
    return Fields(
        name=person_name(body or "", display_name),
        phones=[phone for phone, _ in phone_hits],
        order_numbers=[number for number, _ in _unique(orders)],
        amounts=amounts(text, taken + [span for _, span in orders]),
        asks=asks(text),
        # the body names the place more fully than a subject like 投诉回收站
        object=complained_object(body or "") or complained_object(subject or ""),
    )


# ---------------------------------------------------------------- phones

_D = r"[0-9]"
_SEP = r"[ \-]?"
_OPEN, _CLOSE = r"[(（]", r"[)）]"
_PHONE_PATTERNS = [
    # Taiwan: +886 9xx xxx xxx, +886 2 2345 6789, 09xx-xxx-xxx
    rf"\+886{_SEP}9{_D}{{2}}{_SEP}{_D}{{3}}{_SEP}{_D}{{3}}",
    rf"\+886{_SEP}{_OPEN}?0?{_D}{{1,2}}{_CLOSE}?{_SEP}{_D}{{3,4}}{_SEP}{_D}{{4}}",
    rf"09{_D}{{2}}{_SEP}{_D}{{3,4}}{_SEP}{_D}{{3}}",
    # Hong Kong with its country code: +852 6123 4567
    rf"\+852{_SEP}[2-9]{_D}{{3}}{_SEP}{_D}{{4}}",
    # mainland mobile, optionally +86 / 0086: 138 0013 8000, 138-0013-8000
    rf"(?:(?:\+|00)86{_SEP})?1[3-9]{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}",
    # mainland landline with +86: +86 755 8888 6666, +86-10-62345678
    rf"(?:\+|00)86{_SEP}{_OPEN}?0?[1-9]{_D}{{1,2}}{_CLOSE}?{_SEP}{_D}{{3,4}}{_SEP}{_D}{{4}}",
    # 400 / 800 service numbers
    rf"[48]00{_SEP}{_D}{{3,4}}{_SEP}{_D}{{3,4}}",
    # landline with area code: 010-62345678, (0755)8888 6666, (02)2345-6789
    rf"{_OPEN}0{_D}{{1,3}}{_CLOSE}{_SEP}(?:{_D}{{3,4}}{_SEP}{_D}{{4}}|{_D}{{4}}{_SEP}{_D}{{3}})",
    rf"0{_D}{{2,3}}{_SEP}(?:{_D}{{4}}{_SEP}{_D}{{3,4}}|{_D}{{3}}{_SEP}{_D}{{4}})",
    # Taiwan landline with a one-digit area code: 04-2316-8805, 03-5726419
    rf"0[2-8]{_SEP}(?:{_D}{{3,4}}{_SEP}{_D}{{4}}|{_D}{{4}}{_SEP}{_D}{{3}})",
    # Hong Kong local, written 4-4: 9123 4567, 2345 6789
    rf"[2-9]{_D}{{3}}[ \-]{_D}{{4}}",
]
# Not inside a longer number or code (a digit group after a space counts as part of it).
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?<![0-9][ \-])(?:"
    + "|".join(_PHONE_PATTERNS)
    + r")(?![0-9A-Za-z])(?![ \-][0-9])"
)
_PHONE_CUE = r"(?:电话|電話|手机|手機|联系|聯繫|聯絡|致电|致電|热线|熱線|号码|號碼|tel|TEL|Tel|WhatsApp)"
# A bare 7–8 digit number counts only right after a phone cue.
_CUED_LOCAL = re.compile(
    _PHONE_CUE + r"[^0-9\n]{0,6}?(?<![0-9])([2-9][0-9]{6,7})(?![0-9A-Za-z])(?![ \-][0-9])"
)
_WIDE = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in range(0xFF10, 0xFF1A)} | {"（": "(", "）": ")", "　": " "}
)


def _fold(text: str) -> str:
    """Full-width digits and brackets to ASCII, one character for one, so that
    spans found in the folded text cut the original text as written."""
    return text.translate(_WIDE)


def phones(text: str) -> list[str]:
    """Phone numbers in the order written, each exactly as written."""
    return [phone for phone, _ in _phones(text, [])]


def _phones(text: str, taken: list[tuple[int, int]]) -> list[tuple[str, tuple[int, int]]]:
    folded = _fold(text)
    hits = [(m.span(), m.group(0)) for m in _PHONE.finditer(folded)]
    hits += [(m.span(1), m.group(1)) for m in _CUED_LOCAL.finditer(folded)]
    found: list[tuple[str, tuple[int, int]]] = []
    for span, _ in sorted(hits):
        if _overlaps(span, taken) or _overlaps(span, [s for _, s in found]):
            continue
        found.append((text[span[0] : span[1]], span))
    return _unique(found)


# ---------------------------------------------------------------- order numbers

_ORDER_WORDS = (
    r"订单|訂單|运单|運單|快递单|快遞單|物流单|物流單|邮件|郵件|单据|單據|单|單|合同|合约|合約|受理|"
    r"会员卡|會員卡|会员|會員|卡|工单|工單|流水|凭证|憑證|发票|發票|预约|預約|申请|申請|服务单|服務單|"
    r"报修单|報修單|退款单|退款單|案件|投诉|投訴|缴费单|繳費單|小票|收据|收據|保单|保單|提单|提單|"
    r"批次|收货单|收貨單|参考|參考|团|團|券|货票|貨票|票|机票|機票|月结|月結|寄件|结算单|結算單|"
    r"户|戶|戶口|住院|门诊|門診|病历|病歷|订位|訂位|预订|預訂|商家|商户|商戶|用户|用戶|登记|登記|booking"
)
_NUMBER_WORDS = r"编号|編號|号码|號碼|代号|代號|号|號|编码|編碼|码|碼|ID"
_ORDER_KEYWORD = (
    rf"(?:{_ORDER_WORDS})(?:{_NUMBER_WORDS})"
    # account numbers and names count as the case's reference numbers
    r"|(?:账号|帳號|賬號|账户|帳戶|賬戶)(?:名|号码|號碼)?"
    r"|订单|訂單|运单|運單|小票|单据|單據|结算单|結算單"
    r"|寄存牌|泊车牌|泊車牌|号码牌|號碼牌|waybill|order|tracking|booking|reservation"
    r"|编号|編號"
    # 合同 CC-2023-046 is a number, 合同是156800 a price: after these, only codes with letters
    r"|(?P<weak>合同|合约|合約)"
)
# Spaces only before a digit group (SF 3380 2217, VIP 3320 1179 06) and before the country
# code that ends an international post number (EA 736 204 519 CN).
_CODE = (r"[A-Za-z0-9](?:[A-Za-z0-9]|[\-_/.](?=[A-Za-z0-9])|(?<=[0-9A-Za-z])[ ](?=[0-9]))*"
         r"(?:(?<=[0-9])[ ](?-i:[A-Z]{2})(?![A-Za-z]))?")
# Not a year or a date: 合同2024年.
_KEYWORD_CODE = re.compile(
    rf"(?:{_ORDER_KEYWORD})(?:\s*(?:number|no\.?|ref|#|ID))?[\s:：是係为為(（]*(?P<code>{_CODE})(?![年月日])",
    re.IGNORECASE,
)
# More numbers after the first: 编号 GB20251014-0381、GB20251022-0417
_NEXT_CODE = re.compile(rf"\s*(?:[、,，/]|和|及|以及|与|與)\s*({_CODE})")
# Upper-case letters and at least eight digits, in hyphenated groups or not:
# SF1402856673910, JDVA01583920417, TS-20260312-0021, 0755A20198876, 020-A8812345.
_LETTERED_CODE = re.compile(r"(?<![0-9A-Za-z\-_.])((?:UID ?)?[A-Z0-9]+(?:-[A-Z0-9]+)*)(?![0-9A-Za-z])")
_STANDARDS = ("GB", "GBT", "ISO", "IEC", "QB", "JG", "HJ", "EN", "UL", "CE")
# Letters then digit groups with spaces: SF 3380 2217 6604, EA 736 204 519 CN; or digits
# alone in groups of four, twelve or more (longer than any phone): 4409 2756 1180 3.
_SPACED_CODE = re.compile(
    r"(?<![0-9A-Za-z])([A-Z]{1,4} ?[0-9]{3,4}(?: [0-9]{3,4}){2,4}(?: ?[A-Z]{2}(?![A-Za-z]))?"
    r"|[0-9]{4}(?: [0-9]{4}){2}(?: [0-9]{1,4})?)"
    r"(?![0-9A-Za-z])(?![ \-][0-9])"
)
# Court case numbers: （2026）京0105民初8832号
_COURT_CASE = re.compile(
    r"([(（][0-9]{4}[)）][\u4e00-\u9fff]{1,2}[0-9]{2,6}[\u4e00-\u9fff]{1,4}[0-9]+[号號])"
)
_MOBILE_ONLY = re.compile(r"1[3-9][0-9] ?[0-9]{4} ?[0-9]{4}")
# The complaint desk's own case numbers refer to a case, not to an order.
CASE_NUMBER = re.compile(r"TS-[0-9]{8}-[0-9]{3,5}")
_LONG_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]{10,22}(?![0-9A-Za-z])")
_NOT_ORDER_BEFORE = re.compile(r"(?:身份证|身份證|银行卡|銀行卡|QQ|qq|微信)[号號码碼:：\s]*$")


def order_numbers(
    text: str, case_number: re.Pattern | None = CASE_NUMBER
) -> list[tuple[str, tuple[int, int]]]:
    """Order, waybill, contract, acceptance and account numbers with their spans."""
    folded = _fold(text)
    found: list[tuple[int, int]] = []
    for match in _KEYWORD_CODE.finditer(folded):
        code = match.group("code")
        if _NOT_ORDER_BEFORE.search(folded[: match.start("code")]):
            continue
        if match.group("weak") and not any(c.isalpha() for c in code):
            continue
        end = match.end("code")
        codes = [match.span("code")]
        while (following := _NEXT_CODE.match(folded, end)) and (
            _lettered_order(following.group(1), min_digits=4, keyed=True)
            or _shape(following.group(1)) == _shape(code)
        ):
            end = following.end(1)
            codes.append(following.span(1))
        found += [
            (start, start + len(folded[start:stop].rstrip(" ")))
            for start, stop in codes
            if sum(c.isdigit() for c in folded[start:stop]) >= 4
        ]
    for pattern in (_COURT_CASE, _SPACED_CODE, _LETTERED_CODE):
        for match in pattern.finditer(folded):
            code, span = match.group(1), match.span(1)
            if pattern is _LETTERED_CODE and not _lettered_order(code):
                continue
            if not _overlaps(span, found):
                found.append(span)
    hits = [(text[start:end], (start, end)) for start, end in sorted(found)]
    return _unique([hit for hit in hits if not (case_number and case_number.fullmatch(hit[0]))])


def _shape(code: str) -> str:
    """781-5582190476 and 781-5582190477 have one shape: a second number listed after a
    keyed one is the same kind of number."""
    return re.sub(r"[0-9]", "0", code)


def _lettered_order(code: str, min_digits: int = 8, keyed: bool = False) -> bool:
    """Letters and enough digits, the digits mostly after the letters (not a
    lot number like 20260215B03 or a company code like 91330106MA2KXXXX8X)."""
    prefix = re.match(r"[A-Z]*", code).group(0)
    # International post (UPU S10) ends in a country code: CB884102366JP, UK002291847CN.
    after_letters = re.search(r"[0-9\- ]*$", re.sub(r"(?<=[0-9])[A-Z]{2}$", "", code)).group(0)
    return (
        any(c.isalpha() for c in code)
        and sum(c.isdigit() for c in code) >= min_digits
        and sum(c.isdigit() for c in after_letters) >= min_digits - 1
        and (keyed or prefix.rstrip("T") not in _STANDARDS)
    )


def _bare_numbers(
    text: str, taken: list[tuple[int, int]]
) -> list[tuple[str, tuple[int, int]]]:
    """Long digit runs (ZTO, EMS waybills) that are neither phones nor keyed numbers."""
    folded = _fold(text)
    return [
        (text[match.start() : match.end()], match.span())
        for match in _LONG_DIGIT_RUN.finditer(folded)
        if not _overlaps(match.span(), taken)
        and not _NOT_ORDER_BEFORE.search(folded[: match.start()])
    ]


# ---------------------------------------------------------------- amounts

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "兩": 2, "贰": 2, "三": 3,
              "叁": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7,
              "八": 8, "捌": 8, "九": 9, "玖": 9}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_NUMBER = "[零〇一壹二两兩贰三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟万萬]+"
_NUMBER = r"[0-9](?:[0-9]|,(?=[0-9]{3}))*(?:\.[0-9]+)?"
_CURRENCY = r"(?:¥|￥|RMB|rmb|CNY|人民币|人民幣|HK\$|NT\$|港币|港幣|港元|新台币|新台幣|台币|台幣)"
_MONEY_UNIT = r"(?:元|块钱|塊錢|块|塊|圆|圓|蚊)"
_AMOUNT = re.compile(
    rf"{_CURRENCY}\s*(?P<a>{_NUMBER})\s*(?P<aw>[万萬千])?"
    rf"|(?P<b>{_NUMBER})\s*(?P<bw>[万萬千])?多?\s*{_MONEY_UNIT}"
    rf"|(?P<c>{_NUMBER})\s*(?P<cw>[万萬])(?![0-9元块塊])"
    rf"|(?P<d>{_CN_NUMBER})多?\s*(?P<du>{_MONEY_UNIT})"
)
# "5万" without a unit is money only after words about money: 索赔5万, 损失1.5万.
_MONEY_CONTEXT = re.compile(r"赔|賠|偿|償|款|钱|錢|费|費|价|價|损失|損失|索|退|金额|金額|共计|共計|花了")


def amounts(text: str, taken: list[tuple[int, int]] | None = None) -> list[Decimal]:
    """Amounts of money written with 元 / 块 / ¥ / RMB / 万元 …, as numbers."""
    return [value for value, _ in amount_spans(text, taken)]


def amount_spans(
    text: str, taken: list[tuple[int, int]] | None = None
) -> list[tuple[Decimal, tuple[int, int]]]:
    """Amounts with where they are written."""
    folded = _fold(text)
    values = []
    for match in _AMOUNT.finditer(folded):
        if taken and _overlaps(match.span(), taken):
            continue
        if match.group("c") and not _MONEY_CONTEXT.search(folded[max(0, match.start() - 8) : match.start()]):
            continue
        if match.group("d") and len(match.group("d")) == 1 and match.group("du") in "块塊":
            continue  # 一块 / 两块 are as often pieces as money
        value = _amount_value(match)
        if value is not None and value > 0:
            values.append((value, match.span()))
    return values


def _amount_value(match: re.Match) -> Decimal | None:
    for group in "abc":
        if match.group(group):
            try:
                value = Decimal(match.group(group).replace(",", ""))
            except InvalidOperation:
                return None
            multiplier = {"万": 10000, "萬": 10000, "千": 1000}.get(match.group(group + "w") or "", 1)
            return value * multiplier
    return _chinese_number(match.group("d"))


def _chinese_number(numeral: str) -> Decimal | None:
    """三千五百 → 3500, 两万 → 20000, 一万五 → 15000 (a trailing digit takes the next unit down)."""
    total, section, digit, last_unit = 0, 0, None, 1
    for char in numeral:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        elif char in _CN_UNITS:
            last_unit = _CN_UNITS[char]
            section += (1 if digit is None else digit) * last_unit
            digit = None
        elif char in "万萬":
            total += (section + (digit or 0)) * 10000
            section, digit, last_unit = 0, None, 10000
    if digit is not None:
        section += digit * (last_unit // 10 if last_unit >= 10 else 1)
    value = total + section
    return Decimal(value) if value else None


# ---------------------------------------------------------------- asks

_ASK_WORDS = {
    "refund": r"退款|退钱|退費|退费|退还|退還|退回.{0,4}(?:钱|費|费|款)|返还|返還|退返|把钱退|退给我|退俾",
    "compensation": r"赔偿|賠償|赔付|賠付|理赔|理賠|补偿|補償|索赔|索賠|赔钱|賠錢|损失",
    "apology": r"道歉|致歉|赔礼|賠禮|认错",
    "redo_service": r"重新(?:上门|上門|安排|回收|派送|配送|安装|安裝|处理|處理|办理|辦理|"
    r"测量|測量|做|寄|发货|發貨)|再次上门|再次上門|补发|補發|重做|尽快上门|儘快上門|尽快派|儘快派|派人|改期",
    "explanation": r"说法|說法|解释|解釋|说明|說明|交代|原因|答复|答覆|回复|回覆|给个回应|"
    r"查明|调查|調查|核实|核實",
    "punish_staff": r"处罚|處罰|处分|處分|开除|開除|辞退|辭退|追究|追责|追責|严肃处理|嚴肅處理|严惩|嚴懲"
    r"|批评教育|批評教育|对该员工|對該員工|对他进行|对其进行|換人|换人|不要再派",
    "repair": r"维修|維修|修理|修好|检修|檢修|返修|上门修|上門修",
    "replace": r"换货|換貨|更换|更換|换新|換新|调换|調換|换一(?:台|个|件|部)|換一(?:台|個|件|部)|換過",
    "invoice": r"发票|發票|开票|開票|收据|收據",
    "information": r"请问|請問|想问|想問|问一下|問一下|想了解|想知道|查询|查詢|告知|告诉我|告訴我|进度|進度"
    r"|是否可以|能否|可不可以|可唔可以|需唔需要|多久|什么时候|什麼時候|幾時|几时",
}
_ASK_RES = {ask: re.compile(pattern) for ask, pattern in _ASK_WORDS.items()}
_REQUEST_CUE = re.compile(
    r"要求|希望|请|請|恳请|懇請|麻烦|麻煩|务必|務必|必须|必須|尽快|儘快|应当|應當|应该|應該|"
    r"给我|給我|我要|我想|想要|能否|可否|是否可以|可不可以|可唔可以|唔該|诉求|訴求|期望|盼|"
    r"否则|否則|不然|马上|馬上|立即|立刻|需要|需唔需要|\?|？"
)
_CLAUSE = re.compile(r"[^。！？!?\n；;]+[。！？!?；;]?")
_NOT_ASKING = re.compile(r"不要求|不需要|不用|无需|無需|不必")


def asks(text: str) -> list[str]:
    """What the complainant asks for, read from sentences that make a request."""
    found: list[str] = []
    for clause in _CLAUSE.findall(text):
        if not _REQUEST_CUE.search(clause):
            continue
        for ask, pattern in _ASK_RES.items():
            match = pattern.search(clause)
            if match and not _NOT_ASKING.search(clause[max(0, match.start() - 4) : match.start()]):
                found.append(ask)
    return [ask for ask in ASKS if ask in found]


# ---------------------------------------------------------------- name

_SURNAMES = set(
    "王李张張刘劉陈陳杨楊黄黃赵趙吴吳周徐孙孫马馬朱胡郭何高林罗羅郑鄭梁谢謝宋唐许許韩韓冯馮邓鄧曹"
    "彭曾肖萧蕭田董袁潘于蒋蔣蔡余杜叶葉程苏蘇魏吕呂丁任沈姚卢盧姜崔钟鍾谭譚陆陸汪范金石廖贾賈夏韦韋"
    "付傅方白邹鄒孟熊秦邱江尹薛闫閻段雷侯龙龍史陶黎贺賀顾顧毛郝龚龔邵万萬钱錢严嚴覃武戴莫孔向汤湯常"
    "温溫康施文牛樊葛邢安齐齊易乔喬伍庞龐颜顏倪庄莊聂聶章鲁魯岳翟殷詹申欧歐耿关關兰蘭焦俞左柳甘祝包"
    "宁寧尚符舒阮柯纪紀梅童凌毕畢单單季裴霍涂成苗谷盛曲翁冉骆駱蓝藍路游辛靳管柴蒙鲍鮑华華喻祁蒲房滕"
    "屈饶饒解牟艾尤阳陽时時穆农農司卓古吉缪繆简簡车車项項连連芦蘆麦麥褚娄婁窦竇戚岑景党宫宮费費卜"
    "容洪赖賴莫阎刀习習丰豐冷晏席卫衛米柏宗瞿桂全佟应應臧闵閔苟邬鄔边邊卞姬师師仇栾欒隋商刁沙荣榮巫寇桑郎甄丛叢仲虞敖"
    "巩鞏佘池查麻苑迟遲邝鄺官封谈談匡鞠惠荆荊乐樂冀郁胥班储儲栗燕楚鄢劳勞谌諶奚皮粟冼蔺藺楼樓"
    "满滿闻聞厉厲伊仝区區郜阚闞权權强強帅帥屠豆朴盖蓋练練廉禹井祖漆巴支卿狄计計索宣晋晉初"
    "芮扈晁阙闕戈伏鹿薄邸雍辜乌烏裘亓邰赫杭况況宿逯隆茹诸諸战戰慕危银銀亢嵇湛宾賓戎勾茅揭尉冶"
    "束檀衣展阴陰昝智幸奉植衡富尧堯"
)
_COMPOUND_SURNAMES = ("欧阳", "歐陽", "司马", "司馬", "上官", "诸葛", "諸葛", "东方", "東方", "皇甫",
                      "尉迟", "尉遲", "公孙", "公孫", "令狐", "慕容", "夏侯", "宇文", "长孙", "長孫")
_HONORIFIC = (
    r"(?:先生|女士|小姐|太太|太|生|老师|老師|阿姨|叔叔|大爷|大爺|大姐|经理|經理|主任|总|總|"
    r"律师|律師|专员|專員|科员|科員|师傅|師傅)"
)
# Roles, not given names: 孙律师 signs for a client.
_ROLES = {"律师", "律師", "医生", "醫生", "老板", "老闆", "同学", "同學", "工", "总", "總"}
_NAME_KEYWORD = re.compile(
    r"(?:联系人|聯絡人|聯繫人|投诉人|投訴人|举报人|舉報人|申请人|申請人|代表|车主|車主|"
    r"署名|落款|姓名|签名|簽名|注册名|註冊名)[:：\s]*"
)
_NOT_NAMES = {
    "谢谢", "謝謝", "多谢", "多謝", "感谢", "感謝", "此致", "敬礼", "敬禮", "您好", "你好", "辛苦",
    "盼复", "盼覆", "麻烦", "麻煩", "祝好", "顺祝", "順祝", "商祺", "期待", "以上", "特此",
    "唔该", "唔該", "谢谢你们", "謝謝你們", "谢谢您", "謝謝您", "客服", "经理", "經理", "业主", "業主",
    "车主", "車主", "楼长", "樓長", "全体", "全體", "客户", "客戶", "家长", "家長", "学员", "學員",
    "村民", "居民", "乘客", "顾客", "顧客", "会员", "會員", "群众", "群眾", "员工", "員工", "代表",
}
# Words after a surname character that make a role, not a name: 常顾客, 安全员.
_ROLES = {"医生", "醫生", "老板", "老闆", "同学", "同學", "顾客", "顧客", "客户", "客戶", "业主", "業主",
          "用户", "用戶", "会员", "會員", "员工", "員工", "代表"}
_PLACE_ENDINGS = tuple("区區市省县縣路街号號楼樓室镇鎮村部司店站局厅廳院园園城家员員")
# Lines that are not the letter: quoted replies, the quote's header, mail footers, attachments.
_NOT_LETTER = re.compile(
    r"^\s*>|写道[:：]\s*$|寫道[:：]\s*$|wrote:\s*$"
    r"|^(?:Sent from|发自我的|發自我的|寄自我的|从我的|從我的)"
    r"|^(?:附件|附：|附:)|^-{2,}\s*$|^(?:原始邮件|Original Message)"
)
# 我姓潘 / 我是业主厉女士 / 我叫王建国, when no signature names the writer.
_SELF_INTRODUCTION = re.compile(
    r"(?:我姓|我是|我叫|本人是?)(?:业主|業主|客户|客戶|车主|車主|家长|家長|会员|會員|用户|用戶)?"
    r"([\u4e00-\u9fff]{1,4})"
)
_SIGN_OFF = re.compile(
    r"^(?:——|—|--|-|~)+|(?:敬上|谨上|謹上|敬礼|敬禮|拜托|拜託|一家|全家|等.*)$"
)
_LATIN_NAME = re.compile(
    r"(?<![A-Za-z])(?:(?:Mr|Mrs|Ms|Miss|Dr)\.? )?[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}"
    r"(?: [\u4e00-\u9fff](?![\u4e00-\u9fff]))?(?![A-Za-z])"
)
_LATIN_NOT_NAMES = {
    "Thanks", "Thank You", "Regards", "Best Regards", "Best", "Cheers", "Sincerely", "Hello", "Hi",
    "Dear", "Please", "Sorry", "Mobile", "Tel", "Phone", "Email", "Sent", "From", "No", "Re", "Fw",
    "Fwd", "Subject", "Android", "Ltd", "Limited", "Company",
}
_DATE_OR_PHONE = re.compile(
    r"\d{4}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2}\s*[日号號]?"
    r"|[+(（]?[0-9][0-9 *\-()（）+]{6,}[0-9]"
)
_ASIDE = re.compile(r"[(（][^)）]*[)）]")


def person_name(body: str, display_name: str | None = None) -> str | None:
    """The display name when it looks like a person, else the signature: the
    last lines of the body, then a 联系人 / 投诉人 / …代表 label anywhere."""
    if display_name:
        candidate = display_name.strip().strip("\"'")
        if _looks_like_name(candidate, alone=True):
            return candidate
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    lines = [line for line in lines if not _NOT_LETTER.search(line)]
    for line in reversed(lines[-4:]):
        # the part after the last sentence break: "…表扬一下她。孙丽"
        name = _name_in(re.split(r"[。！？!?，,；;]", line)[-1])
        if name:
            return name
        if len(line) > 40:  # reached the letter itself
            break
    for keyed in reversed(list(_NAME_KEYWORD.finditer(body))):
        name = _name_in(body[keyed.end() : keyed.end() + 12].split("\n")[0])
        if name:
            return name
    return _introduced_name(body)


def _introduced_name(body: str) -> str | None:
    for match in _SELF_INTRODUCTION.finditer(body):
        words = match.group(1)
        if match.group(0).startswith("我姓"):
            if words[0] in _SURNAMES:
                return words[0]
            continue
        for length in (4, 3, 2):  # the longest honorific form: 厉女士，电话… → 厉女士
            candidate = words[:length]
            if len(candidate) == length and _looks_like_name(candidate, alone=False):
                return candidate
        if match.group(0).startswith("我叫") and _looks_like_name(words[:3], alone=True):
            return words[:3]
    return None


def _name_in(segment: str) -> str | None:
    segment = _DATE_OR_PHONE.sub(" ", _ASIDE.sub(" ", segment)).strip()
    pieces = [_SIGN_OFF.sub("", piece) for piece in re.split(r"[\s:：、/|。，,!！?？]+|——", segment)]
    pieces = [piece for piece in pieces if piece and not re.search("[A-Za-z]", piece)]
    for piece in pieces:  # an honorific form first: 孙女士 闵行区 → 孙女士
        if _looks_like_name(piece, alone=False):
            return piece
    for piece in pieces:
        if _looks_like_name(piece, alone=True):
            return piece
    latin = _LATIN_NAME.search(segment)  # Michael Chen, Ms Chan, Kelvin 黃
    if latin and latin.group(0) not in _LATIN_NOT_NAMES:
        return latin.group(0)
    if len(pieces) == 1 and pieces[0] in _SURNAMES and segment.endswith(pieces[0]):
        return pieces[0]  # a bare surname signing off: "谢谢，郑"
    return None


def _looks_like_name(candidate: str, alone: bool) -> bool:
    """A surname with an honorific (陈先生, 黃太), 老/小/阿 + a name (老李, 阿芳), or,
    when it stands alone in its signature, a 2–4 character full name."""
    if not candidate or candidate in _NOT_NAMES:
        return False
    if _LATIN_NAME.fullmatch(candidate):
        return candidate not in _LATIN_NOT_NAMES
    if not re.fullmatch(r"[\u4e00-\u9fff]{2,5}", candidate):
        return False
    if re.fullmatch(r"[老小][\u4e00-\u9fff]", candidate):
        return candidate[1] in _SURNAMES and not candidate.endswith(_PLACE_ENDINGS)
    if re.fullmatch(r"阿[\u4e00-\u9fff]", candidate):
        return True
    surname_length = 2 if candidate.startswith(_COMPOUND_SURNAMES) else 1
    surname, rest = candidate[:surname_length], candidate[surname_length:]
    if surname_length == 1 and surname not in _SURNAMES:
        return False
    if re.fullmatch(_HONORIFIC, rest):
        return True
    if rest in _ROLES or candidate.endswith(_PLACE_ENDINGS):
        return False
    return alone and 1 <= len(rest) <= 2


# ---------------------------------------------------------------- object complained about

_PLACE_SUFFIX = (
    r"回收站|回收点|回收點|门店|門店|网点|網點|菜鸟驿站|菜鳥驛站|驿站|驛站|营业厅|營業廳|营业部|營業部|"
    r"服务站|服務站|服务中心|服務中心|分拣中心|分揀中心|转运中心|轉運中心|专卖店|專賣店|体验店|體驗店|"
    r"分店|分部|站点|站點|快递柜|快遞櫃|大厅|大廳"
)
_BREAK_CHARS = "在到去的了是从從向和跟与與对對给給被把家我你他她这這那个個位"
_BREAK_WORDS = re.compile(r"投诉|投訴|关于|關於|反映|举报|舉報|表扬|表揚|感谢|感謝|咨询|諮詢")
_ROLE_WORDS = (
    r"司机|司機|快递员|快遞員|快递小哥|快遞小哥|配送员|配送員|收派员|收派員|回收员|回收員|"
    r"安装师傅|安裝師傅|维修师傅|維修師傅|业务员|業務員|保洁员|保潔員|月嫂|"
    r"客服人员|客服人員|工作人员|工作人員|师傅|師傅"
)
_SURNAME_CLASS = "[" + "".join(sorted(_SURNAMES)) + "]"
# Most specific first: a staff number beats the window, the window beats the hall.
_OBJECT_PATTERNS = [
    re.compile(
        r"(?:工号|工號|员工号|員工號|工牌号|工牌號)(?:尾数|尾數)?[为為是:：\s]*[A-Za-z]*[0-9]+[A-Za-z0-9]*"
    ),
    re.compile(r"[0-9一二三四五六七八九十]+[号號]?窗口"),
    re.compile(
        r"(?<![0-9A-Za-z])[A-Za-z]?[0-9]{1,4}路(?:公交车|公交|公車|巴士|车|車)?"
        r"|(?:线路|線路)\s*[A-Za-z]?[0-9]+"
    ),
    re.compile(r"(?:车牌号?|車牌號?)[为為是:：\s]*[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}"),
    re.compile(rf"[\u4e00-\u9fffA-Za-z0-9#\-]{{0,12}}(?:{_PLACE_SUFFIX})"),
    re.compile(rf"{_SURNAME_CLASS}(?:{_ROLE_WORDS})|(?:{_ROLE_WORDS})"),
]


def complained_object(text: str) -> str | None:
    """The staff number, window, route, station or branch, or staff role named, if any."""
    folded = _fold(text)
    for pattern in _OBJECT_PATTERNS:
        match = pattern.search(folded)
        if match:
            return _trim_place(text[match.start() : match.end()].strip())
    return None


def _trim_place(value: str) -> str:
    """Cut a place name at the last function word: 我在朝阳区双井回收站 → 朝阳区双井回收站."""
    suffix = re.search(rf"(?:{_PLACE_SUFFIX})$", value)
    if not suffix:
        return value
    head = _BREAK_WORDS.split(value[: suffix.start()])[-1]
    cut = max((head.rfind(char) for char in _BREAK_CHARS), default=-1)
    return head[cut + 1 :] + suffix.group(0)


# ---------------------------------------------------------------- helpers


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def _unique(hits: list[tuple[str, tuple[int, int]]]) -> list[tuple[str, tuple[int, int]]]:
    seen: set[str] = set()
    result = []
    for value, span in hits:
        if value not in seen:
            seen.add(value)
            result.append((value, span))
    return result
