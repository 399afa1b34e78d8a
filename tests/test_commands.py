"""What replies say: department commands on the first line, and customer satisfaction."""

import pytest

from worker.cases.commands import read_department_reply, read_satisfaction
from worker.workdays import Duration


@pytest.mark.parametrize("body, action, target, extension, text", [
    ("延期 2 个工作日 需要调取监控", "extend", "", Duration(2, "working_days"), "需要调取监控"),
    ("延期两个工作日，等待供应商检测\n具体见附件", "extend", "", Duration(2, "working_days"),
     "等待供应商检测\n具体见附件"),
    ("转派 财务部\n涉及退款，请财务核实", "reassign", "财务部", None, "涉及退款，请财务核实"),
    ("转派：logistics", "reassign", "logistics", None, ""),
    ("结案\n已全额退款并致歉。", "close", "", None, "已全额退款并致歉。"),
    ("发送", "approve", "", None, ""),
    ("同意发送。", "approve", "", None, ""),
    ("您好，经核实，回收员已于今日重新上门称重，差价 35 元已退回。", "answer", "", None,
     "您好，经核实，回收员已于今日重新上门称重，差价 35 元已退回。"),
    ("我们下周会延期处理这个问题", "answer", "", None, "我们下周会延期处理这个问题"),
])
def test_department_commands(body, action, target, extension, text):
    command = read_department_reply(body)
    assert (command.action, command.target, command.extension, command.text) == (
        action, target, extension, text)


@pytest.mark.parametrize("body, expected", [
    ("不满意，问题根本没解决", "unsatisfied"),
    ("还是不行，师傅来了也没修好", "unsatisfied"),
    ("1", "unsatisfied"),
    ("打2分", "unsatisfied"),
    ("不滿意", "unsatisfied"),
    ("满意，谢谢", "satisfied"),
    ("5分", "satisfied"),
    ("問題已經解決，謝謝", "satisfied"),
    ("我再补充一下，订单号是 DD20261103001", None),
    ("", None),
])
def test_satisfaction(body, expected):
    assert read_satisfaction(body) == expected
