"""Which department handles a message, and whether it is outside the organisation's remit."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.policy import OutOfScopeRule, Policy, RoutingRule


@dataclass(frozen=True)
class RoutingDecision:
    department: str
    copy_to: list[str] = field(default_factory=list)
    note: str | None = None


def _rule_matches(rule: RoutingRule, labels: dict[str, str], text: str, sender: str) -> bool:
    domain = sender.rpartition("@")[2].lower()
    return all([
        not rule.category or labels.get("category") == rule.category,
        not rule.kind or labels.get("kind") == rule.kind,
        not rule.keywords_any or any(word in text for word in rule.keywords_any),
        not rule.sender_domains or domain in {d.lower() for d in rule.sender_domains},
    ])


def route(policy: Policy, labels: dict[str, str], needs_review: bool, text: str,
          sender: str) -> RoutingDecision:
    """The first matching policy rule with a department decides; else the classifier does.

    A prediction below the review threshold is not guessed: the desk (the policy's fallback)
    triages it by hand. Every matching rule's copy_to is added.
    """
    matching = [rule for rule in policy.routing.rules if _rule_matches(rule, labels, text, sender)]
    deciding = next((rule for rule in matching if rule.department), None)
    if deciding:
        department, note = deciding.department, deciding.note or None
    elif needs_review or labels.get("department") not in policy.departments:
        department, note = policy.routing.fallback, "needs review" if needs_review else None
    else:
        department, note = labels["department"], None
    copies = [code for rule in matching for code in rule.copy_to if code != department]
    notes = [note] + [rule.note for rule in matching if rule.copy_to and rule.note]
    return RoutingDecision(department, list(dict.fromkeys(copies)),
                           "; ".join(n for n in notes if n) or None)


def out_of_scope_rule(policy: Policy, text: str) -> OutOfScopeRule | None:
    """The first out-of-scope rule whose keywords the (normalised) text contains."""
    return next((rule for rule in policy.out_of_scope
                 if any(word in text for word in rule.keywords_any)), None)
