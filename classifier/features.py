"""Features: jieba words and character n-grams, with the subject weighing more.

Tokenising happens here, outside sklearn: `documents()` turns (subject, body)
pairs into an object array of five text columns, and the vectoriser that
`make_vectorizer()` builds only splits on whitespace and counts. The saved
model therefore holds sklearn types and nothing of ours.

Columns, each a TF-IDF block:

- ``words``: word uni- and bigrams of subject + body;
- ``subject_words``: the same for the subject alone, weighted ``subject_weight``;
- ``chars``: character 1–3-grams inside clauses of subject + body, which
  catch what segmentation splits badly (names of stations, typos, Cantonese);
- ``subject_chars``: the same for the subject alone, weighted ``subject_weight``;
- ``cues``: one token per domain cue found in subject + body (``cue_money``,
  ``cue_staff_conduct`` …), weighted ``cue_weight``. The cues are the topics
  DOMAIN.md §2 routes by (money, advertising, app/system, defect,
  installation/repair, delivery, loss or damage, staff behaviour, site
  facilities, station nuisance, employee matters, praise, the complaint desk);
  each is a small lexicon of simplified, traditional and Cantonese wordings, so
  a synonym the training set has never shown still moves the message towards
  its topic. Cross-validated on the training part it adds about 1.5 points of
  macro-F1 to category and department.

A subject term so counts in two blocks, a body term in one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.parallel import Parallel, delayed

from classifier import text

COLUMNS = ("words", "subject_words", "chars", "subject_chars", "cues")
SUBJECT_WEIGHT = 0.5
CHAR_NGRAMS = (1, 3)
CUE_WEIGHT = 0.25
MAX_CUE_COUNT = 5  # a cue repeated more often than this adds nothing
CHUNK_ROWS = 1_000  # pairs a worker process tokenises per task
# (training rows, min_df): a term must occur in this many training messages (fit_vectorizer).
MIN_DF = ((8000, 5), (4000, 3), (500, 2), (0, 1))

# Domain cues: lexicons for the topics the department rules route by. Applied to
# normalised (simplified) text; traditional and Cantonese forms that OpenCC does
# not map are listed too.
CUES: dict[str, str] = {
    "money": (
        r"退款|退钱|退费|收费|扣费|扣款|多收|多扣|乱收|价格|价钱|报价|发票|运费|差价|押金|费用|"
        r"账单|帐单|到账|入账|话费|月费|付款|支付|充值|余额|结算|结账|结款|回收款|回收价|单价|"
        r"折扣|优惠|红包|券|几钱|收钱|退返"
    ),
    "compensation": r"理赔|赔付|赔偿|保价|赔多少|索赔|先行赔付",
    "promotion": (
        r"宣传|广告|海报|直播|活动|推广|承诺|标榜|宣称|虚假|误导|名不副实|写着|写的是|页面上|"
        r"详情页|传单|公众号"
    ),
    "system": (
        r"app|小程序|网站|官网|网页|系统|账号|帐号|账户|帐户|登录|登入|密码|验证码|闪退|bug|"
        r"界面|页面|在线客服|二维码|扫码|机器人"
    ),
    "defect": (
        r"质量|品质|坏了|坏咗|故障|异响|异音|漏水|漏电|裂|变形|甲醛|发霉|过期|变质|异物|不制冷|"
        r"死机|起球|褪色|掉色|异味|自爆|烧焦|质量问题"
    ),
    "installation_repair": (
        r"安装|装机|维修|报修|保修|保固|退货|换货|售后|返修|修好|修理|配件|延保|装维|师傅来装"
    ),
    "delivery": (
        r"快递|速递|物流|派送|派件|配送|运单|单号|签收|驿站|揽收|转运|送货|发货|到货|宅配|包裹|"
        r"寄件|收件|邮寄|骑手"
    ),
    "loss_damage": (
        r"丢了|丢失|遗失|丢件|破损|摔坏|压坏|碎了|损坏|不见了|唔见|冒领|空盒|砸坏|刮花|刮坏|"
        r"弄坏|撞坏|弄丢|少了一"
    ),
    "staff_attitude": (
        r"态度|骂|吼|不耐烦|翻白眼|凶|辱骂|脸色|爱答不理|爱理不理|冷淡|难听|嘲讽|羞辱|甩脸|"
        r"挂断|挂电话"
    ),
    "staff_conduct": (
        r"红包|利是|好处费|索要|私收|私下|回扣|贿|造假|弄虚作假|冒领|私吞|偷|倒卖|泄露|外泄|"
        r"骚扰|威胁|恐吓|吃拿卡要|加急费|辛苦费|克扣|卖给|喝酒|酒气|打人|推人|动手|虚假签收|"
        r"私自|偷拍|抽烟|食烟"
    ),
    "facility": (
        r"电梯|空调|冷气|厕所|卫生间|洗手间|自助机|座椅|椅子|地面|台阶|灯|快递柜|智能柜|"
        r"取号|取筹|叫号|饮水机|停车场|坡道|母婴室|设备|刷卡机|秤|地磅|货架|信号|宽带|宽频|"
        r"断网|基站|wifi|回收箱"
    ),
    "nuisance": (
        r"噪音|扰民|臭|堵住|占道|消防通道|老鼠|苍蝇|冒烟|污水|居民|邻居|附近|门口堆|盲道"
    ),
    "employee": (
        r"我是.{0,12}(?:员工|师傅|司机|快递员|回收员|导购|仓管|分拣|店长|营业员|安装工)|"
        r"人事部|人事行政|工资|薪水|加班|社保|提成|年假|工伤|宿舍|食堂|招聘|应聘|应征|兼职|"
        r"罚款制度|扣工资|入职"
    ),
    "praise": (
        r"表扬|感谢|多谢|谢谢|点赞|赞|辛苦了|值得|好评|满意|贴心|专业|难得"
    ),
    "complaint_desk": (
        r"投诉|客服|热线|回复|推诿|踢皮球|推来推去|转来转去|没人管|石沉大海|受理|工单|"
        r"投诉编号|处理结果"
    ),
    "person": (
        r"师傅|阿姨|工作人员|员工|司机|快递员|速递员|回收员|导购|店员|营业员|收银员|保安|"
        r"车长|律师|专员|经理|站长|小哥|骑手|窗口的|小姐|先生"
    ),
    "question": (
        r"请问|想问|咨询|能不能|可以吗|可不可以|可唔可以|怎么|点样|多少钱|几点|吗\?|\?"
    ),
    "suggestion": r"建议|希望|能否|最好|提议|改进|增加|增设|优化",
    "appointment": (
        r"预约|约了|约好|上门|没来|冇嚟|爽约|放鸽子|迟到|改期|等了|时段|时间段|时间窗"
    ),
}
_CUE_PATTERNS = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in CUES.items())


def cue_text(normalised: str) -> str:
    """``cue_<name>`` once per occurrence (at most ``MAX_CUE_COUNT``) of each cue."""
    tokens: list[str] = []
    for name, pattern in _CUE_PATTERNS:
        count = min(len(pattern.findall(normalised)), MAX_CUE_COUNT)
        tokens += [f"cue_{name}"] * count
    return " ".join(tokens)


def document(subject: str, body: str) -> tuple[str, str, str, str, str]:
    """One row of the feature input: tokens and clause text, subject and whole, cues."""
    subject = text.normalize(subject)
    body = text.normalize(body)
    subject_tokens = text.tokens(subject)
    body_tokens = text.tokens(body)
    return (
        " ".join(subject_tokens + body_tokens),
        " ".join(subject_tokens),
        text.char_text(subject + " " + body),
        text.char_text(subject),
        cue_text(subject + "\n" + body),
    )


def documents(pairs: Iterable[tuple[str, str]], n_jobs: int | None = None) -> np.ndarray:
    """(subject, body) pairs → an (n, 5) object array, the vectoriser's input. jieba is
    pure Python: with ``n_jobs`` (joblib's meaning) that many processes tokenise, a
    chunk of pairs at a time."""
    pairs = list(pairs)
    if n_jobs not in (None, 1) and len(pairs) > CHUNK_ROWS:
        chunks = (pairs[start : start + CHUNK_ROWS] for start in range(0, len(pairs), CHUNK_ROWS))
        return np.concatenate(Parallel(n_jobs=n_jobs)(delayed(documents)(chunk) for chunk in chunks))
    rows = [document(subject, body) for subject, body in pairs]
    array = np.empty((len(rows), len(COLUMNS)), dtype=object)
    for index, row in enumerate(rows):
        array[index] = row
    return array


def fit_vectorizer(
    docs: np.ndarray, n_jobs: int | None = None, **params
) -> tuple[ColumnTransformer, sp.csr_matrix]:
    """`make_vectorizer(**params)` fitted on `docs`, and `docs` transformed by it, in
    one pass over the text. A column that is empty in every row (no subjects at all)
    is dropped rather than failing the fit, and small training sets keep every term
    (``min_df=1`` below 500 rows). From 4,000 rows on a term must occur in three
    messages, from 8,000 on in five: the vocabulary stays near 90,000 terms (on the
    8,932 training rows of the 11,110-row corpus 89,000 instead of 164,000 with three,
    cross-validated macro-F1 the same within ±0.4 points per head), so the model file and
    a worker's start (0.2 s of it) do not grow with the corpus.
    ``n_jobs`` processes fit the blocks side by side; the vectoriser returned has none
    left set, so it never starts any when it is used."""
    empty = {name for index, name in enumerate(COLUMNS) if not any(docs[:, index])}
    params.setdefault("min_df", next(m for rows, m in MIN_DF if len(docs) >= rows))
    drop = tuple(sorted(empty | set(params.pop("drop", ()))))
    vectorizer = make_vectorizer(**params, drop=drop).set_params(n_jobs=n_jobs)
    X = vectorizer.fit_transform(docs).tocsr()
    return vectorizer.set_params(n_jobs=None), X


def make_vectorizer(
    subject_weight: float = SUBJECT_WEIGHT,
    char_ngrams: tuple[int, int] = CHAR_NGRAMS,
    min_df: int = 2,
    drop: tuple[str, ...] = (),
    cue_weight: float = CUE_WEIGHT,
) -> ColumnTransformer:
    """An unfitted sklearn transformer over the columns of `documents()`.

    ``min_df=2`` drops terms seen in one training message only: it halves the
    vocabulary (and the model file) at no measurable cost in macro-F1.
    """

    def words() -> TfidfVectorizer:
        # Tokens are already space-joined: split on whitespace only.
        return TfidfVectorizer(
            token_pattern=r"\S+",
            lowercase=False,
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=min_df,
        )

    def chars() -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb", ngram_range=char_ngrams, sublinear_tf=True, min_df=min_df
        )

    def cues() -> TfidfVectorizer:
        # A handful of cue tokens: keep every one, whatever min_df says.
        return TfidfVectorizer(token_pattern=r"\S+", lowercase=False, sublinear_tf=True)

    blocks = {
        "words": words(),
        "subject_words": words(),
        "chars": chars(),
        "subject_chars": chars(),
        "cues": cues(),
    }
    return ColumnTransformer(
        [
            (name, "drop" if name in drop else blocks[name], index)
            for index, name in enumerate(COLUMNS)
        ],
        transformer_weights={
            "words": 1.0,
            "subject_words": subject_weight,
            "chars": 1.0,
            "subject_chars": subject_weight,
            "cues": cue_weight,
        },
        sparse_threshold=1.0,
    )


def fitted_blocks(vectorizer: ColumnTransformer) -> list[tuple[str, object, object]]:
    """(name, fitted transformer, column) of each block that makes columns, in the
    order of its columns in the output."""
    return [
        (name, fitted, column)
        for name, fitted, column in vectorizer.transformers_
        if fitted not in ("drop", "passthrough") and not _empty(column)
    ]


def _empty(column) -> bool:
    return isinstance(column, list | tuple | np.ndarray) and len(column) == 0


def terms(vectorizer: ColumnTransformer) -> tuple[list[str], np.ndarray]:
    """The readable term of each output column (``上门回收师傅`` for the word bigram
    ``上门回收 师傅``), and whether it explains a prediction to a reader: words do,
    character n-grams, cues and collapsed numbers do not."""
    readable: list[str] = []
    explainable: list[bool] = []
    for name, fitted, _ in fitted_blocks(vectorizer):
        names = fitted.get_feature_names_out().tolist()
        if name.endswith("chars"):
            block = [term.strip() for term in names]
        else:
            block = [term.replace(" ", "") for term in names]
        words = name.endswith("words")
        readable += block
        explainable += [words and bool(term) and text.NUMBER_TOKEN not in term for term in block]
    return readable, np.array(explainable, dtype=bool)
