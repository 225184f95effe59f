"""Decision rules: given the answers so far, is the request decided, and how? Pure Python.

``First`` is the connector's rule; ``All``, ``Quorum`` and ``Collect`` are issue 17's.
Only recipients who still hold a place (not handed on) are counted as able to answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from approvals.policies.settings import PolicySettings
from approvals.store.status import Outcome


@dataclass(frozen=True)
class Decision:
    """The outcome once the request ends (None while it waits), the option it decided (None
    when undecided), and how many more answers it needs at least (0 when it ended)."""

    outcome: Outcome | None
    option: str | None
    needed: int


def decide(
    policy: PolicySettings, options: Sequence[str], answers: Sequence[str], waiting: int
) -> Decision:
    """``answers``: the options chosen so far, oldest first; ``waiting``: recipients holding
    a place who have not answered."""
    if policy.type == "First":
        if answers:
            return Decision(Outcome.DECIDED, answers[0], 0)
        return Decision(None, None, 1)
    if policy.type == "All":
        refusals = [option for option in answers if option != options[0]]
        if refusals:
            return Decision(Outcome.DECIDED, refusals[0], 0)
        if waiting == 0 and answers:
            return Decision(Outcome.DECIDED, options[0], 0)
        return Decision(None, None, waiting)
    counts = Counter(answers)
    if policy.type == "Quorum":
        need = policy.count or 1
        reached = [option for option in options if counts[option] >= need]
        if reached:
            return Decision(Outcome.DECIDED, reached[0], 0)
        best = max((counts[option] for option in options), default=0)
        if best + waiting < need:
            return Decision(Outcome.UNDECIDED, None, 0)
        return Decision(None, None, need - best)
    # Collect: every answer, then the option chosen most (a tie decides nothing).
    if waiting > 0 or not answers:
        return Decision(None, None, max(waiting, 1))
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return Decision(Outcome.UNDECIDED, None, 0)
    return Decision(Outcome.DECIDED, ranked[0][0], 0)
