"""Deciding items: how many more answers an item needs, and the decision after each answer."""

from __future__ import annotations

from labeling.models import Project, RuleKind


def initial_needed(project: Project) -> int:
    """Answers a fresh item needs before its rule can possibly decide."""
    return needed_after(project, top_votes=0, answers=0)


def needed_after(project: Project, *, top_votes: int, answers: int) -> int:
    """Further answers needed before the rule could decide, given the votes so far (an undecided
    item). Never more than the answers the item may still take; at least 1 while it may take any."""
    cap = project.max_answers - answers
    if cap <= 0:
        return 0
    at_least_min = project.min_answers - answers
    if project.rule_kind == RuleKind.CONFIDENCE:
        return max(1, min(cap, at_least_min))
    k = project.agree_k
    if project.rule_kind == RuleKind.ESCALATE:
        if answers < project.escalate_after:
            cap = min(cap, project.escalate_after - answers)  # stage 1: agree_k of escalate_after
        else:
            k = project.escalate_k  # escalated: escalate_k of max_answers
    return max(1, min(cap, max(k - top_votes, at_least_min)))
