"""`triage classify`, `triage model train` and `triage model evaluate`, run as an admin runs them.

The training rows are a city government hotline's (12345-style) messages,
written for this test, with the hotline's own departments — labels the shipped
model has never seen.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from worker.cli import triage

from harness import write_config

DATA = Path(__file__).parent / "data"
HOUSING, TRANSPORT, MARKET, CITY = "住建局", "交通局", "市场监管局", "城管局"

# (subject, body, department, kind): 20 per department, inquiries among them.
HOTLINE = [
    ("物业不作为", "我们小区物业费年年涨，楼道灯坏了半年没人修，物业公司推来推去。", HOUSING, "complaint"),
    ("工地夜间打桩", "隔壁工地每天夜里十二点还在打桩施工，噪音太大孩子根本睡不着，请住建部门管一管！！",
     HOUSING, "complaint"),
    ("电梯一个月坏五次", "小区3号楼电梯一个月坏了五次，上周还困了人，物业说维修资金不够。", HOUSING, "complaint"),
    ("新房卫生间漏水", "刚交付的商品房卫生间漏水到楼下，开发商一直拖着不修，已经三个月了。", HOUSING, "complaint"),
    ("开发商延期交房", "购房合同写的去年12月交房，到现在还没交，开发商也不给任何说法和违约金。", HOUSING, "complaint"),
    ("老旧小区改造", "请问我们这种九十年代的老小区，管道老化严重，什么时候能纳入老旧小区改造计划？",
     HOUSING, "inquiry"),
    ("房产证三年办不下来", "买房三年了开发商还没给办不动产权证，说是手续没办完，我们业主怎么办？",
     HOUSING, "complaint"),
    ("维修基金怎么申请", "小区外墙瓷砖脱落，想用住宅专项维修资金维修，需要走什么流程？", HOUSING, "inquiry"),
    ("物业乱收停车费", "物业在小区公共道路上划线收停车费，一个月三百，业主大会根本没表决过。", HOUSING, "complaint"),
    ("商品房墙体开裂", "新房墙面大面积开裂，找开发商好几次都说是正常现象，这质量验收是怎么通过的？",
     HOUSING, "complaint"),
    ("公租房申请条件", "您好，想咨询一下公租房的申请条件，外地户口在本市交社保满两年可以申请吗？",
     HOUSING, "inquiry"),
    ("工地扬尘", "建筑工地没有围挡也不洒水降尘，刮风的时候整条街都是灰，附近居民窗户都不敢开。",
     HOUSING, "complaint"),
    ("物業不肯撤場", "業委會已經選了新物業公司，舊物業拒不撤場，還把小區大門鎖了，垃圾也沒人清。",
     HOUSING, "complaint"),
    ("外墙保温层掉落", "小区外墙保温层大块脱落砸坏了楼下的车，开发商和物业互相推诿。", HOUSING, "complaint"),
    ("电梯加装政策", "老小区加装电梯政府有没有补贴？一楼住户不同意怎么办？", HOUSING, "inquiry"),
    ("施工单位拖欠工资", "我在XX花园项目工地干了半年，施工单位拖欠我们农民工工资两万多，项目经理电话不接。",
     HOUSING, "complaint"),
    ("楼上装修噪音", "楼上装修周末早上七点就开始电钻，跟物业说了好几次都没用，装修管理规定是摆设吗",
     HOUSING, "complaint"),
    ("燃气管道改造挖路不回填", "小区燃气管道改造，路面挖开一个多月了不回填，到处是坑，老人摔倒了两次。",
     HOUSING, "complaint"),
    ("物业费", "物业服务一塌糊涂还涨物业费", HOUSING, "complaint"),
    ("房屋安全鉴定", "我家老房子墙体有裂缝，想做房屋安全鉴定，请问找哪个部门、怎么收费？", HOUSING, "inquiry"),
    ("公交车过站不停", "早上7点40在人民路站等车，8路公交车直接开过去不停站，害我上班迟到。", TRANSPORT, "complaint"),
    ("出租车拒载", "晚上在火车站打车，出租车司机嫌路近拒载，还骂人，车牌号浙A·T1234。", TRANSPORT, "complaint"),
    ("网约车绕路多收费", "坐网约车从机场到市区，司机故意绕路多收了四十多块，平台客服也不处理。", TRANSPORT, "complaint"),
    ("公交司机开车看手机", "15路公交司机一边开车一边刷短视频，车上乘客都很害怕，太危险了。", TRANSPORT, "complaint"),
    ("公交线路调整", "请问37路公交线路什么时候恢复原来的走向？现在绕一大圈，上学要多花半小时。",
     TRANSPORT, "inquiry"),
    ("道路坑洼", "建设路和解放路交叉口路面坑坑洼洼，下雨积水，电动车已经摔了好几个人。", TRANSPORT, "complaint"),
    ("公交卡充值", "老年人免费乘车卡在哪里办理？需要带什么材料？", TRANSPORT, "inquiry"),
    ("长途汽车站票价", "汽车站到县城的班车票价突然从25涨到35，也没有公示，这合理吗？", TRANSPORT, "complaint"),
    ("出租車不打表", "香港來的朋友坐出租車，司機不打表一口價一百五，明顯宰客，請交通部門查處。",
     TRANSPORT, "complaint"),
    ("公交末班车提前", "夜班下班赶最后一班车，19路末班车说是22点，结果21点40就走了。", TRANSPORT, "complaint"),
    ("网约车合规", "想问下私家车跑网约车需要办理什么证件，运输证怎么申请？", TRANSPORT, "inquiry"),
    ("驾校乱收费", "报名驾校时说好全包价，现在考科目二又要交一千块培训费。", TRANSPORT, "complaint"),
    ("公交站台破损", "幸福路公交站台顶棚破了，雨天等车全身淋湿，站牌也看不清。", TRANSPORT, "complaint"),
    ("客运班车超载", "今天坐的客运班车核载35人，实际塞了45个人，过道都站满了，太危险！", TRANSPORT, "complaint"),
    ("bus app", "公交APP显示车还有两站，等了半小时都没来，实时公交数据根本不准。", TRANSPORT, "complaint"),
    ("公交司机态度差", "老人上车慢了点，司机就大声呵斥，还没坐稳就猛地起步。", TRANSPORT, "complaint"),
    ("高速收费", "ETC明明正常，高速出口却多扣了我一次通行费，客服电话一直打不通。", TRANSPORT, "complaint"),
    ("新开公交线路", "我们新小区入住两千多户，附近没有公交站，建议开通一条公交线路到地铁站。",
     TRANSPORT, "inquiry"),
    ("出租车", "出租车司机抽烟，跟他说了还不掐，一车烟味", TRANSPORT, "complaint"),
    ("共享单车占道", "地铁口共享单车乱停乱放，把盲道全堵了，运营企业也不来清理调度。", TRANSPORT, "complaint"),
    ("超市卖过期食品", "在华联超市买的牛奶回家发现已经过期五天了，货架上还有好多同批次的。", MARKET, "complaint"),
    ("商家虚假宣传", "某美容院宣传“一次祛斑永不反弹”，做了三次一点效果都没有，还要我续费。", MARKET, "complaint"),
    ("预付卡老板跑路", "健身房办了三千块的年卡，才去了两个月店就关门了，老板电话打不通。", MARKET, "complaint"),
    ("餐馆卫生差", "在一家小饭馆吃饭吃出了蟑螂，后厨脏得不行，老板还不承认。", MARKET, "complaint"),
    ("价格欺诈", "景区门口的水果店标价每斤10元，结账时说是每两10元，明显价格欺诈。", MARKET, "complaint"),
    ("假冒商品", "网上店铺买的名牌运动鞋是假货，商家拒绝退货，说不支持七天无理由。", MARKET, "complaint"),
    ("营业执照办理", "想开一家小卖部，个体工商户营业执照怎么办理？网上可以办吗？", MARKET, "inquiry"),
    ("电动车充电器起火", "买的电动车原装充电器充电时冒烟起火，差点把房子烧了，厂家推卸责任。", MARKET, "complaint"),
    ("药店高价卖口罩", "小区门口药店口罩标价五块一个，进价不到五毛，这算不算哄抬物价？", MARKET, "complaint"),
    ("计量不准", "菜市场一个摊位的秤有问题，买两斤肉回家一称只有一斤六两。", MARKET, "complaint"),
    ("食品標籤", "超市賣的進口零食沒有中文標籤，生產日期也看不到，這樣合法嗎？", MARKET, "inquiry"),
    ("培训机构退费难", "给孩子报的英语培训班，机构突然停课，剩下的一万多学费一直不退。", MARKET, "complaint"),
    ("奶茶店卫生", "奶茶店员工不戴手套直接用手抓料，杯子也不消毒，看着就恶心。", MARKET, "complaint"),
    ("直播带货质量问题", "直播间买的羊毛衫说是100%羊毛，检测出来全是腈纶，商家拉黑了我。", MARKET, "complaint"),
    ("消费者投诉流程", "请问在商场买到质量有问题的家电，商家不给退，应该怎么维权？", MARKET, "inquiry"),
    ("加油站加油不足", "在路口那家加油站加了200块钱的油，油表几乎没动，怀疑加油机被做了手脚。",
     MARKET, "complaint"),
    ("保健品骗老人", "我爸在社区讲座被推销保健品，说能治高血压，花了八千多买了一堆，这是不是诈骗？",
     MARKET, "complaint"),
    ("商家不开发票", "饭店吃饭要发票，老板说开票要加6%的税点。", MARKET, "complaint"),
    ("婚纱摄影合同", "婚纱摄影店签合同时承诺的精修片数量，拍完以后不认账了。", MARKET, "complaint"),
    ("外卖食品安全", "外卖点的凉皮里有头发和一只虫子，吃完拉了一晚上肚子。", MARKET, "complaint"),
    ("路边摊占道经营", "小区门口每天晚上都有一排摆摊的，占了整个人行道，行人只能走机动车道。", CITY, "complaint"),
    ("烧烤油烟扰民", "楼下夜市烧烤摊油烟直接往楼上飘，家里窗户都不敢开，一直营业到凌晨两点。", CITY, "complaint"),
    ("垃圾清运不及时", "我们这条街的垃圾桶三天没人清运了，臭气熏天，苍蝇乱飞。", CITY, "complaint"),
    ("路灯不亮", "滨河路从二号桥到三号桥一段路灯全都不亮，晚上黑灯瞎火的，很不安全。", CITY, "complaint"),
    ("违章搭建", "一楼住户在院子里私搭乱建了一个铁皮房，还占了消防通道。", CITY, "complaint"),
    ("广告牌摇摇欲坠", "商业街一块大型户外广告牌歪了，大风天晃得厉害，下面每天人来人往。", CITY, "complaint"),
    ("店铺出店经营", "五金店把货都摆到门外的人行道上，推婴儿车都过不去。", CITY, "complaint"),
    ("井盖缺失", "文化路中段有个井盖不见了，只放了一个破桶挡着，晚上很容易掉下去。", CITY, "complaint"),
    ("建筑垃圾乱倒", "有人半夜开车往河边空地倾倒建筑垃圾，已经堆成一座小山了。", CITY, "complaint"),
    ("流动摊贩", "学校门口小商贩卖三无零食，还占道，放学时特别拥堵。", CITY, "complaint"),
    ("垃圾分類", "請問小區的廚餘垃圾幾點收？可回收物可以隨時投放嗎？", CITY, "inquiry"),
    ("绿化带被毁", "有人把路边绿化带的树砍了种菜，还用围栏圈了起来。", CITY, "complaint"),
    ("小广告泛滥", "小区楼道和电线杆上贴满了开锁、办证的小广告，刚清理完又贴上。", CITY, "complaint"),
    ("摆摊许可", "我想在夜市摆个小吃摊，需要去城管那里申请什么手续吗？", CITY, "inquiry"),
    ("公厕太脏", "公园里的公共厕所又脏又臭，洗手池的水龙头坏了好久没人修。", CITY, "complaint"),
    ("广场舞噪音", "广场舞音响开得震天响，每天晚上七点到十点，家里老人心脏不好受不了。", CITY, "complaint"),
    ("餐厨垃圾", "饭店把泔水直接倒进雨水井里，一到夏天整条路都是馊味。", CITY, "complaint"),
    ("渣土车撒漏", "渣土车晚上跑，一路撒泥，早上路面全是泥浆，也没人来冲洗。", CITY, "complaint"),
    ("城管执法态度", "城管执法队员收摊贩的东西时推搡老人，请查一下是谁。", CITY, "complaint"),
    ("树枝挡路灯", "行道树长得太茂盛把路灯全挡住了，能不能修剪一下？", CITY, "inquiry"),
]

# Written apart from the training rows: the retrained model must route them itself.
FRESH = [
    ("物业把电梯停了", "我们小区物业管理混乱，电梯坏了半个月没人修，物业费照收不误。", HOUSING),
    ("公交车急刹车", "坐12路公交，司机开得很猛还急刹车，把车上一个老人摔倒了。", TRANSPORT),
    ("超市卖过期酸奶", "在超市买的酸奶已经过期三天了，货架上还在卖，食品安全没人管吗。", MARKET),
    ("人行道上烧烤摊", "夜市烧烤摊占了人行道，油烟呛人，垃圾扔得满地都是。", CITY),
]


def hotline_rows() -> list[dict]:
    return [{"id": f"hotline-{number:03d}", "subject": subject, "body": body,
             "department": department, "kind": kind}
            for number, (subject, body, department, kind) in enumerate(HOTLINE, 1)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def invoke(config: Path, *args: str):
    return CliRunner().invoke(triage, ["--config", str(config), *args])


def json_lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def config(tmp_path) -> Path:
    return write_config(tmp_path, None, None)


MESSAGE_KEYS = {"source", "kind", "category", "department", "severity", "confidence",
                "needs_review", "candidates", "fields"}
FIELD_KEYS = {"name", "phones", "order_numbers", "amounts", "asks", "object"}


def test_classify_an_eml_file(config):
    path = DATA / "utf8_base64.eml"
    result = invoke(config, "classify", str(path))
    assert result.exit_code == 0, result.output
    [line] = json_lines(result)
    assert set(line) == MESSAGE_KEYS and set(line["fields"]) == FIELD_KEYS
    assert line["source"] == str(path)
    assert set(line["confidence"]) == set(line["candidates"]) == {"kind", "category", "department",
                                                                   "severity"}
    for head, candidates in line["candidates"].items():
        assert len(candidates) == 3 and candidates[0][0] == line[head]
        assert 0 < line["confidence"][head] <= 1
    assert line["kind"] == "complaint"
    assert line["fields"]["order_numbers"] == ["YT7501234567890"]


def test_classify_jsonl_and_csv_rows(config, tmp_path):
    jsonl = write_jsonl(tmp_path / "mail.jsonl", [
        {"subject": "回收员称重缺斤短两", "body": "上门回收的师傅称重少了三公斤，差了45元，电话13800138000。"},
        {"body": "快递运单号SF1402856673910三天没有物流信息，请尽快处理。张女士"},
    ])
    table = tmp_path / "mail.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "body"])
        writer.writerow(["表扬", "营业厅的小李服务非常耐心，特此表扬！"])
    result = invoke(config, "classify", str(jsonl), str(table))
    assert result.exit_code == 0, result.output
    lines = json_lines(result)
    assert [line["source"] for line in lines] == [f"{jsonl}#1", f"{jsonl}#2", f"{table}#1"]
    assert lines[0]["fields"]["phones"] == ["13800138000"]
    assert lines[0]["fields"]["amounts"] == ["45"]
    assert lines[1]["fields"]["order_numbers"] == ["SF1402856673910"]
    assert lines[1]["department"] == "logistics"
    assert lines[2]["kind"] == "praise"
    assert all(isinstance(line["needs_review"], bool) for line in lines)


@pytest.mark.parametrize("name, content, named", [
    ("broken.jsonl", '{"body": "好的"}\n{"body": "没有结尾\n', "broken.jsonl#2"),
    ("no_body.jsonl", '{"subject": "", "body": ""}\n', "no_body.jsonl#1"),
    ("list.jsonl", '["subject", "body"]\n', "list.jsonl#1"),
    ("number.jsonl", '{"body": 12}\n', "number.jsonl#1"),
    ("columns.csv", "title,text\n一,二\n", "columns.csv"),
    ("empty.jsonl", "\n", "empty.jsonl"),
    ("notes.txt", "投诉", "notes.txt"),
    ("garbage.eml", "", "garbage.eml"),
])
def test_bad_input_is_one_line_naming_the_file_and_row(config, tmp_path, name, content, named):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = invoke(config, "classify", str(path))
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_a_missing_file_is_refused(config, tmp_path):
    result = invoke(config, "classify", str(tmp_path / "nope.eml"))
    assert result.exit_code == 2 and "nope.eml" in result.output


@pytest.fixture
def hotline_model(config, tmp_path) -> Path:
    data = write_jsonl(tmp_path / "hotline.jsonl", hotline_rows())
    result = invoke(config, "model", "train", "--data", str(data), "--out", str(tmp_path / "models"),
                    "--estimator", "svc")
    assert result.exit_code == 0, result.output
    [version] = (tmp_path / "models").iterdir()
    return version


def test_train_on_a_hotline_and_it_routes_with_its_own_departments(config, tmp_path, hotline_model):
    meta = json.loads((hotline_model / "meta.json").read_text(encoding="utf-8"))
    assert set(meta["labels"]) == {"department", "kind"}
    assert set(meta["labels"]["department"]) == {HOUSING, TRANSPORT, MARKET, CITY}
    assert meta["data"]["rows"] == len(HOTLINE)
    fresh = write_jsonl(tmp_path / "fresh.jsonl",
                        [{"subject": s, "body": b} for s, b, _ in FRESH])
    result = invoke(config, "classify", "--model", str(hotline_model), str(fresh))
    assert result.exit_code == 0, result.output
    lines = json_lines(result)
    assert [line["department"] for line in lines] == [department for *_, department in FRESH]
    assert all(line["kind"] == "complaint" for line in lines)
    assert all(line["category"] is None and line["severity"] is None for line in lines)
    assert set(lines[0]["confidence"]) == {"department", "kind"}


def test_train_prints_the_holdout_evaluation_and_records_the_version(config, tmp_path):
    data = write_jsonl(tmp_path / "hotline.jsonl", hotline_rows())
    result = invoke(config, "model", "train", "--data", str(data), "--estimator", "svc")
    assert result.exit_code == 0, result.output
    assert f"trained on {len(HOTLINE)} rows (0 from corrections)" in result.output
    assert "department: n=" in result.output and "macro-F1=" in result.output
    listed = json_lines(invoke(config, "model", "list", "--format", "jsonl"))
    [trained] = [row for row in listed if not row["version"].startswith("shipped:")]
    assert not trained["active"] and trained["data_rows"] == len(HOTLINE)
    assert (tmp_path / "storage" / "models" / trained["version"] / "model.skops").is_file()


def test_train_refuses_rows_without_labels(config, tmp_path):
    data = write_jsonl(tmp_path / "unlabelled.jsonl", [{"body": "你好"}, {"body": "再见"}])
    result = invoke(config, "model", "train", "--data", str(data))
    assert result.exit_code == 2 and "cannot train" in result.output


def test_evaluate_json_and_table(config, tmp_path, hotline_model):
    data = write_jsonl(tmp_path / "hotline.jsonl", hotline_rows())
    result = invoke(config, "model", "evaluate", "--data", str(data), "--model", str(hotline_model),
                    "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == hotline_model.name and report["rows"] == len(HOTLINE)
    assert set(report["heads"]) == {"department", "kind"}
    for head in report["heads"].values():
        assert head["n"] == len(HOTLINE) and 0.8 <= head["macro_f1"] <= head["accuracy"] + 0.2
    table = invoke(config, "model", "evaluate", "--data", str(data), "--model", str(hotline_model))
    assert table.exit_code == 0 and "macro-F1" in table.output and "department" in table.output


def test_evaluate_the_active_model_on_a_corpus_file(config):
    corpus = Path(__file__).parent.parent / "classifier" / "data" / "corpus" / "express_retail.jsonl"
    result = invoke(config, "model", "evaluate", "--data", str(corpus), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] and set(report["heads"]) == {"kind", "category", "department", "severity"}
    assert report["heads"]["kind"]["accuracy"] > 0.8
