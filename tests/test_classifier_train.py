"""Training, saving, loading and predicting with an organisation's own labels.

The rows are a government hotline's (12345-style) messages written for this
test, with departments the shipped model has never heard of.
"""

from __future__ import annotations

import builtins
import csv
import json

import numpy as np
import pytest
import skops.io

from classifier import dataset, features, heads, store
from classifier.evaluate import evaluate, format_report, write_report
from classifier.learning_curve import format_curve, learning_curve
from classifier.predict import Classifier, Prediction
from classifier.scoring import LinearHead, transform
from classifier.train import train

HOUSING, TRANSPORT, MARKET = "住建局", "交通局", "市场监管局"

# (subject, body, department, kind): 20 per department, a few inquiries each.
MESSAGES = [
    ("小区物业不作为", "我们小区物业费年年涨，楼道灯坏了半年没人修，物业公司推来推去。", HOUSING, "投诉"),
    ("工地夜间施工噪音", "家旁边的工地每天晚上十二点还在打桩，噪音太大根本睡不着。", HOUSING, "投诉"),
    ("楼顶违建", "顶楼住户在楼顶私自搭建彩钢房，存在安全隐患，请住建部门查处。", HOUSING, "投诉"),
    ("电梯经常停运", "小区电梯一个月坏了五次，老人上下楼很困难，物业说没钱维修。", HOUSING, "投诉"),
    ("新房漏水", "刚交付的商品房卫生间漏水，开发商一直拖着不修，房子没法住。", HOUSING, "投诉"),
    ("施工扬尘严重", "工地没有围挡也不洒水，扬尘很大，附近居民窗户都不敢开。", HOUSING, "投诉"),
    ("开发商延期交房", "购房合同写的去年底交房，到现在还没交房，开发商也不给说法。", HOUSING, "投诉"),
    ("装修噪音扰民", "楼上装修周末早上七点就开始电钻，物业也管不了。", HOUSING, "投诉"),
    ("老旧小区改造", "我们小区是九十年代的房子，管道老化，什么时候能纳入老旧小区改造？", HOUSING, "咨询"),
    ("房产证办不下来", "买房三年了开发商还没给办房产证，说是土地手续没办完。", HOUSING, "投诉"),
    ("维修基金怎么用", "小区外墙脱落想用住宅专项维修基金，需要什么手续？", HOUSING, "咨询"),
    ("物业乱收停车费", "物业在小区公共道路划车位收费，业主没有同意过。", HOUSING, "投诉"),
    ("燃气管道改造扰民", "管道改造挖开路面一个月没回填，小区里到处是坑。", HOUSING, "投诉"),
    ("拆迁补偿", "我家在拆迁范围内，想问一下拆迁补偿标准在哪里可以查？", HOUSING, "咨询"),
    ("外墙保温层脱落", "小区外墙保温层大块脱落，砸坏了楼下的车，开发商不管。", HOUSING, "投诉"),
    ("公租房申请", "请问公租房申请条件是什么，外地户口可以申请吗？", HOUSING, "咨询"),
    ("工地渣土车", "工地渣土车夜里进出，撒得小区门口全是泥。", HOUSING, "投诉"),
    ("小区绿地被占", "物业把小区绿地改成了停车场，业主大会没有表决过。", HOUSING, "投诉"),
    ("商品房质量", "新房墙面大面积开裂，找开发商几次都说正常现象。", HOUSING, "投诉"),
    ("物业交接", "业委会选了新物业，老物业拒不撤场，小区垃圾没人清。", HOUSING, "投诉"),
    ("公交车不停站", "早上在人民路站等车，8路公交车直接开过去不停站，害我迟到。", TRANSPORT, "投诉"),
    ("出租车拒载", "晚上在火车站打车，出租车司机嫌路近拒载，还态度恶劣。", TRANSPORT, "投诉"),
    ("网约车绕路", "坐网约车从机场到市区，司机故意绕路多收了四十块。", TRANSPORT, "投诉"),
    ("公交司机开车玩手机", "15路公交司机一边开车一边看手机，乘客都很害怕。", TRANSPORT, "投诉"),
    ("道路坑洼", "解放大道辅路坑坑洼洼，晚上骑电动车很容易摔，请交通部门修一修。", TRANSPORT, "投诉"),
    ("公交线路调整", "请问26路公交线路调整后还经过体育中心吗？", TRANSPORT, "咨询"),
    ("末班车太早", "地铁末班车晚上十点就停了，下夜班的人根本赶不上，建议延长运营时间。", TRANSPORT, "投诉"),
    ("公交车空调不开", "大夏天公交车不开空调，车厢里闷得喘不过气。", TRANSPORT, "投诉"),
    ("出租车不打表", "出租车司机不打表，到了地方开口要一百块。", TRANSPORT, "投诉"),
    ("长途客车超载", "去县城的长途客车严重超载，过道里都站满了人。", TRANSPORT, "投诉"),
    ("驾校收费", "驾校报名后又要交各种考试费和补考费，跟当初说的不一样。", TRANSPORT, "投诉"),
    ("公交卡充值", "老年人公交卡在哪里办理，乘车免费吗？", TRANSPORT, "咨询"),
    ("共享单车乱停", "地铁口共享单车停得满地都是，人行道都走不了。", TRANSPORT, "投诉"),
    ("公交站台损坏", "人民医院公交站台的顶棚坏了，下雨天候车的人都淋湿。", TRANSPORT, "投诉"),
    ("客运站售票", "客运站售票窗口只开一个，排队一个小时买不到票。", TRANSPORT, "投诉"),
    ("网约车司机骚扰", "网约车司机下单后一直打电话骚扰我，还加我微信。", TRANSPORT, "投诉"),
    ("高速收费", "请问节假日小型客车高速公路免费通行的时间是几号到几号？", TRANSPORT, "咨询"),
    ("公交车急刹车", "10路公交司机开得太猛，急刹车把一位老人摔倒了。", TRANSPORT, "投诉"),
    ("出租车车况差", "出租车座椅破烂车里一股烟味，司机还在车上抽烟。", TRANSPORT, "投诉"),
    ("公交发车间隔太长", "3路公交高峰期发车间隔半小时，车站挤满了人。", TRANSPORT, "投诉"),
    ("超市卖过期食品", "在华联超市买的牛奶已经过期三天了，还摆在货架上卖。", MARKET, "投诉"),
    ("饭店卫生差", "在一家快餐店吃饭发现菜里有头发，后厨脏乱差。", MARKET, "投诉"),
    ("商家虚假宣传", "商场打折活动原价虚标，先涨价再打折，这是价格欺诈。", MARKET, "投诉"),
    ("菜市场缺斤短两", "菜市场卖肉的摊位电子秤有问题，两斤肉少了三两。", MARKET, "投诉"),
    ("网购买到假货", "网店买的名牌运动鞋是假货，商家拒绝退款。", MARKET, "投诉"),
    ("药店乱涨价", "小区药店口罩和退烧药价格翻了三倍，明码标价都没有。", MARKET, "投诉"),
    ("营业执照办理", "请问个体工商户营业执照网上怎么办理，需要哪些材料？", MARKET, "咨询"),
    ("美容院办卡不退", "美容院办了五千块的卡，店铺突然关门，老板联系不上。", MARKET, "投诉"),
    ("奶茶店无证经营", "学校门口的奶茶店没有食品经营许可证，卫生很差。", MARKET, "投诉"),
    ("家电质量问题", "新买的洗衣机用了一周就坏了，商家不给换货。", MARKET, "投诉"),
    ("健身房跑路", "健身房预付了年卡，现在店关门了，会员费怎么追回？", MARKET, "投诉"),
    ("食品经营许可", "开一家小餐馆需要办食品经营许可证吗？去哪里办？", MARKET, "咨询"),
    ("加油站加油不足", "在加油站加了两百块的油，油表只动了一点，怀疑加油机有问题。", MARKET, "投诉"),
    ("培训机构退费", "培训机构承诺不满意全额退费，现在退费一拖再拖。", MARKET, "投诉"),
    ("外卖商家无证", "外卖平台上的一家店铺没有营业执照，吃了拉肚子。", MARKET, "投诉"),
    ("商品不明码标价", "水果店不明码标价，结账时随口要价。", MARKET, "投诉"),
    ("消费者维权", "商家卖的电动车电池是翻新的，想问怎么维权？", MARKET, "咨询"),
    ("餐馆强制消费", "餐馆收取开瓶费和包间最低消费，服务员态度很强硬。", MARKET, "投诉"),
    ("超市价签不符", "超市货架价签写九块九，结账收了十五块。", MARKET, "投诉"),
    ("保健品虚假广告", "保健品店给老人开讲座说能治病，卖几千块一盒的保健品。", MARKET, "投诉"),
]


def _rows(messages=MESSAGES, prefix="gov"):
    return [
        {"id": f"{prefix}-{i:03d}", "subject": s, "body": b, "department": d, "kind": k,
         "script": "simplified"}
        for i, (s, b, d, k) in enumerate(messages)
    ]


@pytest.fixture(scope="module")
def trained():
    return train(_rows(), holdout_fraction=0.2, seed=7)


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    return store.save(trained.model, trained.meta, tmp_path_factory.mktemp("models"))


def test_heads_are_trained_for_the_label_columns_present_with_their_labels(trained):
    assert trained.classifier.heads == ("kind", "department")
    assert set(trained.classifier.labels("department")) == {HOUSING, TRANSPORT, MARKET}
    assert set(trained.classifier.labels("kind")) == {"投诉", "咨询"}
    assert trained.meta["labels"]["department"] == sorted([HOUSING, TRANSPORT, MARKET])


def test_it_predicts_its_own_labels(trained):
    classifier = trained.classifier
    cases = [
        ("小区物业不管事", "物业把楼道堆满杂物，电梯坏了也不修，开发商和物业互相推诿。", HOUSING),
        ("公交司机态度差", "今天坐12路公交车，司机不停站还骂乘客，开车也很猛。", TRANSPORT),
        ("超市卖假货", "超市卖的食品过期了，商家还不给退款，价格也不明码标价。", MARKET),
    ]
    for subject, body, department in cases:
        prediction = classifier.predict(subject, body)
        assert prediction["department"].label == department
        assert prediction["department"].candidates[0][0] == department
        assert len(prediction["department"].candidates) == 3
        assert prediction["department"].words  # the words behind the choice
    assert classifier.predict("请问", "请问公交卡在哪里办理？需要什么材料？")["kind"].label == "咨询"


def test_prediction_fields(trained):
    prediction = trained.classifier.predict("出租车拒载", "出租车司机拒载还绕路")
    head = prediction["department"]
    assert isinstance(prediction, Prediction)
    assert 0.0 <= head.probability <= 1.0
    assert head.probability == head.candidates[0][1]
    assert [p for _, p in head.candidates] == sorted((p for _, p in head.candidates), reverse=True)
    assert head.words and all(word in "出租车拒载出租车司机拒载还绕路" for word in head.words)
    json.dumps(prediction.to_dict(), ensure_ascii=False)


def test_holdout_metrics_are_reported(trained):
    metrics = trained.metrics
    assert set(metrics["heads"]) == {"kind", "department"}
    department = metrics["heads"]["department"]
    assert department["n"] == len(trained.holdout_ids) > 0
    assert department["accuracy"] >= 0.6
    assert set(department["per_class"]) <= {HOUSING, TRANSPORT, MARKET}
    assert "simplified" in department["accuracy_by_script"]
    assert len(department["confusion"]["matrix"]) == len(department["confusion"]["labels"])
    assert department["coverage_curve"][0] == {
        "threshold": 0.0, "coverage": 1.0, "accuracy": department["accuracy"]
    }


def test_gibberish_needs_review_with_a_high_threshold(trained):
    prediction = trained.classifier.predict(
        "qwzx", "zzkq wpxv 9981 §§ ～～", thresholds={"department": 0.99, "kind": 0.99}
    )
    assert prediction.needs_review
    assert prediction["department"].needs_review
    assert prediction["department"].label in {HOUSING, TRANSPORT, MARKET}  # still the best guess
    relaxed = trained.classifier.predict("qwzx", "zzkq", thresholds={"department": 0.0, "kind": 0.0})
    assert not relaxed.needs_review


def test_predict_many_matches_predict(trained):
    rows = [{"subject": s, "body": b} for s, b, _, _ in MESSAGES[:5]] + [("", "")]
    batch = trained.classifier.predict_many(rows)
    single = [trained.classifier.predict(r["subject"], r["body"]) for r in rows[:5]]
    assert [p.labels() for p in batch[:5]] == [p.labels() for p in single]
    assert trained.classifier.predict_many([]) == []


def test_fast_scoring_reproduces_sklearn_probabilities(trained):
    docs = features.documents((s, b) for s, b, _, _ in MESSAGES)
    X = transform(trained.classifier.vectorizer, docs)
    for model in trained.classifier.models.values():
        assert np.allclose(LinearHead.from_estimator(model).proba(X), model.predict_proba(X))


@pytest.mark.parametrize("model", ["svc", "logreg"])
def test_both_candidates_score_like_sklearn(model):
    result = train(_rows(), holdout_fraction=0.0, model=model)
    docs = features.documents((s, b) for s, b, _, _ in MESSAGES)
    X = transform(result.classifier.vectorizer, docs)
    for head, estimator in result.classifier.models.items():
        assert result.meta["models"][head]["model"] == model
        assert np.allclose(LinearHead.from_estimator(estimator).proba(X), estimator.predict_proba(X))


# ------------------------------------------------------------------ saving and loading


def test_saved_model_loads_with_only_sklearn_types_trusted(trained, saved):
    meta = json.loads((saved / store.META_FILE).read_text(encoding="utf-8"))
    assert meta["trusted_types"]
    assert all(t.split(".")[0] in store.TRUSTED_MODULES for t in meta["trusted_types"])
    untrusted_in_file = skops.io.get_untrusted_types(file=saved / store.MODEL_FILE)
    assert not any(t.startswith(("classifier", "jieba")) for t in untrusted_in_file)
    for key in ("labels", "versions", "data", "metrics", "thresholds", "models"):
        assert key in meta
    assert set(meta["versions"]) >= {"sklearn", "jieba", "skops", "numpy"}
    assert meta["data"]["sha256"] == dataset.fingerprint(_rows())
    assert saved.name == meta["version"]

    loaded = Classifier.load(saved)
    body = "公交司机开车看手机"
    assert loaded.predict("公交", body).labels() == trained.classifier.predict("公交", body).labels()


def test_a_version_directory_is_never_overwritten(trained, saved):
    assert saved.parent / saved.name in store.versions(saved.parent)
    assert store.latest(saved.parent) == store.versions(saved.parent)[-1]
    for path in saved.iterdir():
        assert not path.stat().st_mode & 0o222  # read-only


def whitespace_tokenizer(text: str) -> list[str]:
    return text.split()


def test_a_tokenizer_inside_the_pipeline_is_refused_at_save(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=whitespace_tokenizer).fit(["上门 回收", "回收 站"])
    with pytest.raises(store.UntrustedModelError):
        store.save({"vectorizer": vectorizer, "heads": {}}, {}, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no half-written version left behind


def test_a_model_file_with_an_untrusted_type_is_refused_at_load(trained, tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=whitespace_tokenizer).fit(["上门 回收", "回收 站"])
    forged = tmp_path / "20990101-000000-forged00"
    forged.mkdir()
    skops.io.dump({"vectorizer": vectorizer, "heads": {}}, forged / store.MODEL_FILE)
    own_types = skops.io.get_untrusted_types(file=forged / store.MODEL_FILE)
    # metadata that trusts the foreign function is refused before loading ...
    (forged / store.META_FILE).write_text(json.dumps({"trusted_types": own_types}))
    with pytest.raises(store.UntrustedModelError):
        Classifier.load(forged)
    # ... and metadata that hides it is refused by skops while loading
    (forged / store.META_FILE).write_text(json.dumps({"trusted_types": []}))
    with pytest.raises(skops.io.exceptions.UntrustedTypesFoundException):
        Classifier.load(forged)


def test_predict_does_no_io(saved, monkeypatch):
    classifier = Classifier.load(saved)

    def no_io(*args, **kwargs):
        raise AssertionError(f"predict opened a file: {args!r}")

    monkeypatch.setattr(builtins, "open", no_io)
    prediction = classifier.predict("出租车拒载", "出租车司机拒载还不打表，我要打12345投诉。")
    assert prediction["department"].label == TRANSPORT
    assert classifier.predict_many([("超市", "过期牛奶"), ("物业", "电梯坏了")])


# ------------------------------------------------------------------ data and evaluation


def test_the_holdout_is_frozen_by_row_id():
    rows = _rows()
    before = train(rows, model="logreg").holdout_ids
    more = rows + _rows(MESSAGES[:10], prefix="more")
    after = set(train(more, model="logreg").holdout_ids)
    assert set(before) <= after
    assert after - set(before) <= {r["id"] for r in more[len(rows):]}


def test_csv_and_jsonl_rows_read_alike(tmp_path):
    rows = _rows()[:5]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    table = tmp_path / "rows.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "phones"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "phones": "138 0013 8000;010-62345678"})
    from_csv = dataset.read_rows([table])
    assert dataset.fingerprint(from_csv) == dataset.fingerprint(dataset.read_rows([jsonl]))
    assert from_csv[0]["phones"] == ["138 0013 8000", "010-62345678"]
    assert len(dataset.read_rows([tmp_path])) == 10


def test_evaluate_writes_text_and_png(saved, tmp_path):
    classifier = Classifier.load(saved)
    result = evaluate(classifier, _rows()[::3], thresholds={"department": 0.5})
    assert result["heads"]["department"]["threshold"] == 0.5
    assert "department" in format_report(result)
    text_path, image_path = write_report(result, tmp_path / "report", title=saved.name)
    assert image_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "macro-F1" in text_path.read_text(encoding="utf-8")


def test_no_label_column_is_an_error():
    with pytest.raises(ValueError, match="no label column"):
        train([{"id": "x", "subject": "a", "body": "b"}])



def test_vocabularies_are_saved_as_term_arrays_and_load_back_the_same(trained, saved):
    model, _ = store.load(saved)
    for _, fitted, _ in features.fitted_blocks(model["vectorizer"]):
        # one array in the file, not a dict written and read back item by item
        assert isinstance(fitted.get_params()["vocabulary"], np.ndarray)
        assert not hasattr(fitted, "vocabulary_")
    docs = features.documents((s, b) for s, b, _, _ in MESSAGES)
    before = transform(trained.classifier.vectorizer, docs)
    after = transform(model["vectorizer"], docs)
    assert before.shape == after.shape and (before != after).nnz == 0
    assert features.terms(model["vectorizer"])[0] == features.terms(trained.classifier.vectorizer)[0]
    # saving leaves the model in memory as it was
    for _, fitted, _ in features.fitted_blocks(trained.classifier.vectorizer):
        assert fitted.get_params()["vocabulary"] is None and fitted.vocabulary_


def test_training_in_several_processes_makes_the_same_model(trained):
    parallel = train(_rows(), holdout_fraction=0.2, seed=7, n_jobs=2)
    rows = [(s, b) for s, b, _, _ in MESSAGES]
    serial_predictions = [p.to_dict() for p in trained.classifier.predict_many(rows)]
    assert [p.to_dict() for p in parallel.classifier.predict_many(rows)] == serial_predictions
    assert parallel.metrics == trained.metrics


def test_large_training_sets_get_logistic_regression_without_selection(monkeypatch):
    monkeypatch.setattr(heads, "LARGE", 40)  # the 60 rows count as large
    result = train(_rows(), holdout_fraction=0.0)
    assert result.meta["models"] == {
        "kind": {"model": "logreg", "cv_macro_f1": {}},
        "department": {"model": "logreg", "cv_macro_f1": {}},
    }
    assert result.classifier.models["department"].tol == heads.LARGE_TOLERANCE
    forced = train(_rows(), holdout_fraction=0.0, model="svc")
    assert {choice["model"] for choice in forced.meta["models"].values()} == {"svc"}


@pytest.mark.parametrize(("margin", "chosen"), [(1.0, "svc"), (-1.0, "logreg")])
def test_logistic_regression_replaces_the_svc_only_by_more_than_the_margin(monkeypatch, margin, chosen):
    monkeypatch.setattr(heads, "SELECTION_MARGIN", margin)
    result = train(_rows(), holdout_fraction=0.0)
    for choice in result.meta["models"].values():
        assert set(choice["cv_macro_f1"]) == {"svc", "logreg"}  # both were scored
        assert choice["model"] == chosen


@pytest.mark.parametrize(("rows", "kept"), [(7_999, True), (8_000, False)])
def test_a_larger_corpus_keeps_only_terms_seen_in_five_messages(rows, kept):
    """From 8,000 training rows on a term must occur in five messages (not three), so the
    vocabulary, the model file and a worker's start do not grow with the corpus."""
    texts = [f"常见词 编号{index}" for index in range(rows)]
    texts[:4] = ["少见词 常见词"] * 4  # in four messages only
    docs = np.array([(t, "", t, "", "") for t in texts], dtype=object)
    vectorizer, _ = features.fit_vectorizer(docs)
    words = dict(features.fitted_blocks(vectorizer)[0][1].vocabulary_)
    assert "常见词" in words
    assert ("少见词" in words) is kept


def test_a_learning_curve_trains_on_growing_shares_and_scores_one_holdout(trained):
    points = learning_curve(_rows(), [1.0, 0.5], holdout_fraction=0.2, seed=7)
    assert [p.fraction for p in points] == [0.5, 1.0]
    assert points[0].train_rows == round(len(trained.train_ids) * 0.5)
    assert points[1].train_rows == len(trained.train_ids)
    assert {p.holdout_rows for p in points} == {len(trained.holdout_ids)}
    assert set(points[1].macro_f1) == {"kind", "department"}
    assert "share" in format_curve(points).splitlines()[0]


@pytest.mark.parametrize("fractions", [[], [0.0], [1.5]])
def test_a_learning_curve_refuses_shares_outside_zero_to_one(fractions):
    with pytest.raises(ValueError, match="fractions"):
        learning_curve(_rows(), fractions)
