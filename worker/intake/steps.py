"""The intake steps, each a small class with a `name` and `run(message, context)`.

A step reads the message and the context, fills in the message, or raises `Discard` /
`Unparseable`. It never commits, sends or enqueues: worker/intake/service.py applies the
outcome in one transaction afterwards.

The steps run over a batch of messages (a poll's worth), one step at a time across the batch,
so a step with a `run_many` does its work once for all of them: the classifier's per-call cost
is several times its per-message cost.
"""

from __future__ import annotations

import re
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from classifier.extract import extract_fields
from models.case_numbers import number_pattern
from worker.intake.context import IntakeContext
from worker.intake.machine_mail import machine_mail_reason
from worker.intake.message import Discard, IntakeMessage, Unparseable
from worker.mail.normalize import detect_script, normalize_text
from worker.mail.parse import UnparseableMail, parse_message
from worker.reply_tokens import token_from_address, token_is_genuine
from worker.routing import out_of_scope_rule, route


class RefuseOversized:
    """Too large to parse safely: kept as stored, and the sender gets a polite note."""

    name = "refuse-oversized"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        if len(message.raw) > context.policy.intake.max_message_bytes:
            headers = BytesHeaderParser(policy=default_policy).parsebytes(message.raw)
            auto = str(headers.get("Auto-Submitted", "no")).lower() != "no"
            raise Discard(f"too large: {len(message.raw)} bytes",
                          notice=None if auto else "too_large")


class Parse:
    name = "parse"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        try:
            message.parsed = parse_message(message.raw)
        except UnparseableMail as error:
            raise Unparseable(str(error)) from error


class DropMachineMail:
    """Auto-replies, bounces, lists and our own mail never open a case or get an answer."""

    name = "drop-machine-mail"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        sender = message.parsed.from_address
        department = context.department_of(sender)
        if department:
            message.sender_role, message.sender_department = "department", department
        elif sender == context.policy.organisation.desk_address.lower():
            message.sender_role = "desk"
        reason = machine_mail_reason(message.parsed, context.own_addresses)
        if reason:
            raise Discard(f"machine mail: {reason}")
        if not sender:
            raise Discard("no sender address")


class MatchCase:
    """A message answering one of ours belongs to that case, whoever wrote it."""

    name = "match-case"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        parsed = message.parsed
        candidates = [
            ("in-reply-to", lambda: context.lookups.case_for_message_ids(
                [i for i in [parsed.in_reply_to, *parsed.references] if i])),
            ("reply-address", lambda: self._by_token(parsed, context)),
            ("subject-number", lambda: self._by_subject(parsed.subject, context)),
        ]
        for matched_by, find in candidates:
            case_id = find()
            if case_id is not None:
                message.case_id, message.matched_by = case_id, matched_by
                return

    @staticmethod
    def _by_token(parsed, context: IntakeContext) -> int | None:
        for address in [*parsed.to, *parsed.cc]:
            token = token_from_address(address, context.env.from_address)
            if token and token_is_genuine(context.env.signing_key, token):
                return context.lookups.case_for_token(token)
        return None

    @staticmethod
    def _by_subject(subject: str, context: IntakeContext) -> int | None:
        pattern = number_pattern(context.policy.case_numbers.format)
        for number in re.findall(rf"(?<![A-Za-z0-9]){pattern}(?![A-Za-z0-9])", subject or ""):
            case_id = context.lookups.case_for_number(number)
            if case_id is not None:
                return case_id
        return None


class Normalise:
    name = "normalise"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        parsed = message.parsed
        message.body = parsed.text
        message.normalised = normalize_text(message.body)
        message.script = detect_script(f"{parsed.subject}\n{message.body}")


FALLBACK_LABELS = {"kind": "complaint", "category": "other", "severity": "normal"}


class Classify:
    name = "classify"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        self.run_many([message], context)

    def run_many(self, messages: list[IntakeMessage], context: IntakeContext) -> None:
        new = [message for message in messages if message.case_id is None]
        if not new:
            return
        classifier = context.classifiers.get()
        predictions = classifier.predict_many(
            [(normalize_text(message.parsed.subject or ""), message.normalised) for message in new],
            thresholds=context.policy.thresholds.model_dump(),
        )
        for message, prediction in zip(new, predictions, strict=True):
            message.prediction = prediction
            message.model_version = classifier.meta.get("version")
            # A model trained without some head (an organisation's own data) leaves it to the desk.
            message.labels = {**FALLBACK_LABELS, **prediction.labels()}


class ExtractFields:
    name = "extract-fields"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        if message.case_id is not None:
            return
        parsed = message.parsed
        message.fields = extract_fields(
            subject=parsed.subject or "", body=message.body, display_name=parsed.from_name or "")


class Route:
    """The policy's rules first, then the classifier; unsure predictions go to the desk."""

    name = "route"

    def run(self, message: IntakeMessage, context: IntakeContext) -> None:
        if message.case_id is not None:
            return
        decision = route(context.policy, message.labels, message.prediction.needs_review,
                         message.normalised, message.parsed.from_address)
        message.department = decision.department
        message.copy_to = decision.copy_to
        message.routing_note = decision.note
        message.out_of_scope = out_of_scope_rule(context.policy, message.normalised)


# The whole intake, in order: a reader sees the flow from raw bytes to a routed case here.
STEPS = (RefuseOversized(), Parse(), DropMachineMail(), MatchCase(), Normalise(), Classify(),
         ExtractFields(), Route())


class StepFailed(Exception):
    def __init__(self, step: str, error: Exception):
        super().__init__(f"{step}: {error!r}")
        self.step = step
        self.error = error


# Why a message left the pipeline early: it needs no case (Discard), has no text
# (Unparseable), or a step raised (StepFailed).
Stop = Discard | Unparseable | StepFailed


def run_steps(messages: list[IntakeMessage], context: IntakeContext) -> dict[int, Stop]:
    """Runs every step over the batch; the messages that stopped early, by raw id.

    A step with `run_many` takes the whole batch at once; if that raises, the step runs again
    one message at a time, so only the message at fault stops, with the step's name.
    """
    stopped: dict[int, Stop] = {}
    for step in STEPS:
        going = [message for message in messages if message.raw_id not in stopped]
        if hasattr(step, "run_many") and _ran_together(step, going, context):
            continue
        for message in going:
            try:
                step.run(message, context)
            except (Discard, Unparseable) as stop:
                stopped[message.raw_id] = stop
            except Exception as error:
                stopped[message.raw_id] = StepFailed(step.name, error)
            else:
                message.steps_run.append(step.name)
    return stopped


def _ran_together(step, messages: list[IntakeMessage], context: IntakeContext) -> bool:
    try:
        step.run_many(messages, context)
    except Exception:
        return False  # one at a time, to find the message at fault
    for message in messages:
        message.steps_run.append(step.name)
    return True
