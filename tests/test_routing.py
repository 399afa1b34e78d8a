"""Routing: policy rules first, then the classifier; unsure goes to the desk; out of scope."""

from worker.policy import load_policy
from worker.routing import out_of_scope_rule, route

LABELS = {"kind": "complaint", "category": "delivery", "department": "logistics", "severity": "normal"}


def test_confident_prediction_decides():
    decision = route(load_policy("recycling"), LABELS, False, "快递三天没到", "kehu@qq.com")
    assert decision.department == "logistics" and decision.copy_to == []


def test_unsure_prediction_goes_to_the_desk():
    decision = route(load_policy("recycling"), LABELS, True, "快递三天没到", "kehu@qq.com")
    assert decision.department == "customer_service" and decision.note == "needs review"


def test_unknown_department_label_falls_back():
    labels = {**LABELS, "department": "住建局"}
    assert route(load_policy("recycling"), labels, False, "x", "a@b.cn").department == "customer_service"


def test_employee_complaint_goes_to_hr_by_sender_domain():
    policy = load_policy("manufacturer")
    decision = route(policy, LABELS, False, "主管克扣加班费", "wang.wu@maker.example.com")
    assert decision.department == "hr"
    assert route(policy, LABELS, False, "主管克扣加班费", "kehu@qq.com").department == "logistics"


def test_compensation_is_copied_to_quality_for_sign_off():
    decision = route(load_policy("manufacturer"), LABELS, False, "要求赔偿损失", "kehu@qq.com")
    assert decision.department == "logistics" and decision.copy_to == ["quality"]
    assert "质量管理部会签" in decision.note


def test_out_of_scope_rules():
    policy = load_policy("service_hall")
    assert out_of_scope_rule(policy, "小区物业公司乱收停车费").name == "not_our_remit"
    assert out_of_scope_rule(policy, "窗口工作人员态度恶劣") is None
    assert out_of_scope_rule(load_policy("express"), "这是别家快递的件").name == "not_our_parcel"
