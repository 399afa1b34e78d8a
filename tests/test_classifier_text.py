"""The text pipeline and the features: segmentation, normalisation, subject weight."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from classifier import features, text
from classifier.scoring import transform

ROOT = Path(__file__).resolve().parents[1]


def test_the_domain_dictionary_keeps_domain_words_whole():
    tokens = text.segment("我预约了上门回收，回收站称重时缺斤少两，运单号SF1402856673910，我要打12315投诉")
    for word in ("上门回收", "回收站", "称重", "运单号", "12315", "投诉"):
        assert word in tokens


def test_more_domain_words_are_single_tokens():
    tokens = text.segment("快递柜里的件保价了吗，安装师傅说甲醛不超标，APP一直闪退，我对结果不满意")
    for word in ("快递柜", "保价", "安装师傅", "甲醛", "闪退", "不满意"):
        assert word in tokens


def test_tokens_drop_stop_words_and_punctuation_and_collapse_numbers():
    tokens = text.tokens("您好！我的运单号是SF1402856673910，请尽快处理。")
    assert "您好" not in tokens and "的" not in tokens and "，" not in tokens
    assert "运单号" in tokens and "请" in tokens
    assert text.NUMBER_TOKEN in tokens
    assert "sf1402856673910" not in tokens


def test_hotline_numbers_survive_as_words():
    assert "12315" in text.tokens("我要打12315")
    assert "12345" in text.tokens("已向12345反映")


def test_normalize_converts_traditional_and_folds_width():
    assert text.normalize("投訴處理，運單號") == "投诉处理,运单号"
    assert text.normalize("ＡＢＣ１２３　（測試）") == "ABC123 (测试)"
    assert text.fold_width("１２３１５") == "12315"


def test_normalize_drops_quoted_reply_lines():
    body = "还是没有退款。\n> 您好，您的投诉已受理。\n> 我们将尽快处理。"
    assert "受理" not in text.normalize(body)


def test_char_text_keeps_clauses_and_collapses_long_numbers():
    assert text.char_text("运单号SF1402856673910，到今天") == "运单号sf# 到今天"


def test_the_jieba_cache_lives_in_the_configured_directory(tmp_path):
    env = {**os.environ, text.CACHE_DIR_ENV: str(tmp_path / "cache")}
    code = "from classifier import text; text.warm_up(); print(text.segment('上门回收'))"
    root = Path(__file__).resolve().parents[1]
    for _ in range(2):  # the second process loads the cache the first one wrote
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert "上门回收" in run.stdout
    assert (tmp_path / "cache" / text.JIEBA_CACHE_FILE).is_file()


def test_the_jieba_cache_is_read_in_one_piece_and_a_damaged_one_rebuilt(tmp_path):
    env = {**os.environ, text.CACHE_DIR_ENV: str(tmp_path)}
    warm = "from classifier import text; text.warm_up(); print(text.segment('上门回收'))"
    # jieba's own reader (marshal.load on the open file, object by object) is not needed
    no_slow_read = "import marshal\ndef refuse(file): raise ValueError('slow read')\nmarshal.load = refuse\n"
    cache = tmp_path / text.JIEBA_CACHE_FILE

    def run(code: str) -> None:
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "上门回收" in done.stdout

    run(warm)
    written = cache.stat().st_mtime_ns
    run(no_slow_read + warm)
    assert cache.stat().st_mtime_ns == written  # loaded, not rebuilt
    cache.write_bytes(b"\x00 not marshal data")
    run(warm)
    assert cache.stat().st_size > 1_000_000  # rebuilt by jieba


# ------------------------------------------------------------------ features

DOCS = [
    ("退款没到账", "上个月申请的退款一直没有到账"),
    ("快递丢了", "运单号显示已签收但我没收到快递"),
    ("师傅态度差", "上门回收的师傅态度很差还骂人"),
    ("咨询回收价格", "请问旧冰箱回收价格是多少"),
]


def _fitted():
    docs = features.documents(DOCS)
    return docs, features.fit_vectorizer(docs)[0]


def _weight_of(vectorizer, row, term: str) -> float:
    readable, words = features.terms(vectorizer)  # words: the explainable columns
    return sum(
        value
        for index, value in zip(row.indices, row.data, strict=True)
        if readable[index] == term and words[index]
    )


def test_a_word_in_the_subject_weighs_more_than_in_the_body():
    _, vectorizer = _fitted()
    in_subject = features.documents([("退款", "快递 签收")])
    in_body = features.documents([("快递 签收", "退款")])
    subject_row = vectorizer.transform(in_subject).tocsr()
    body_row = vectorizer.transform(in_body).tocsr()
    assert _weight_of(vectorizer, subject_row, "退款") > _weight_of(vectorizer, body_row, "退款")


def test_documents_are_token_strings_outside_the_sklearn_pipeline():
    docs, vectorizer = _fitted()
    assert docs.shape == (len(DOCS), len(features.COLUMNS))
    assert "上门回收" in docs[2, 0].split()
    # the vectoriser only splits on whitespace: nothing of ours inside it
    for _, fitted, _ in vectorizer.transformers_:
        if fitted == "drop":
            continue
        params = fitted.get_params()
        assert not callable(params.get("analyzer"))
        assert params.get("tokenizer") is None and params.get("preprocessor") is None


def test_an_empty_subject_column_is_dropped_not_fatal():
    docs = features.documents([("", body) for _, body in DOCS])
    vectorizer, _ = features.fit_vectorizer(docs)
    names = {name for name, fitted, _ in vectorizer.transformers_ if fitted != "drop"}
    assert names == {"words", "chars", "cues"}  # the bodies hold domain cues (退款, 快递 …)


def test_domain_cues_name_the_topics_a_message_touches():
    cues = features.cue_text(text.normalize("退款還沒到賬，快遞員態度很差，還罵人"))
    assert {"cue_money", "cue_delivery", "cue_staff_attitude"} <= set(cues.split())
    assert features.cue_text("") == ""


def test_fast_transform_equals_the_column_transformer():
    docs, vectorizer = _fitted()
    expected = vectorizer.transform(docs).toarray()
    assert np.allclose(transform(vectorizer, docs).toarray(), expected)


def test_several_processes_tokenise_as_one_does(monkeypatch):
    monkeypatch.setattr(features, "CHUNK_ROWS", 2)  # four pairs: two chunks, one per process
    assert (features.documents(DOCS, n_jobs=2) == features.documents(DOCS)).all()


def test_fitting_the_vectoriser_also_transforms_its_rows():
    docs = features.documents(DOCS)
    vectorizer, X = features.fit_vectorizer(docs)
    assert np.allclose(X.toarray(), transform(vectorizer, docs).toarray())
