"""The rules a run's state changes obey, wherever they are recorded.

The engine proposes states; the store decides. The run store's writer applies these rules to
every reported state (embedded, and on the server, whose event ingestion writes through
it), and the server's state route answers a refused change with 409 and the rule's name.
A report the rules refuse is still kept in the run's history, marked with the rule, so
nothing a process said is lost; the run's state is the one the rule leaves it in. The
engine learns of a ruling when its top-level flow run ends (``plait.journal.ruling``) and
returns the state the store holds.

A new attempt (``plait flow-run retry``, which journals ``RunResumed``) starts the run's
state afresh: it is the one way a finished run runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

from plait.states import FINAL_NAMES, StateType


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    reason: str


FINAL_IS_FINAL = Rule(
    "final-is-final",
    "A finished run keeps its final state: to run it again, use `plait flow-run retry`, "
    "which starts a new attempt of it.",
)
CRASHED_STAYS_CRASHED = Rule(
    "crashed-stays-crashed",
    "A run marked Crashed had stopped reporting (its process died or lost touch for longer "
    "than heartbeat_timeout_seconds); a report that arrives later is kept in its history "
    "but does not bring the run back.",
)
CANCELLING_ENDS_CANCELLED = Rule(
    "cancelling-ends-cancelled",
    "A run asked to cancel ends Cancelled, whatever it reports after the request.",
)
RULES = (FINAL_IS_FINAL, CRASHED_STAYS_CRASHED, CANCELLING_ENDS_CANCELLED)
"""Every rule, for documentation and the API."""

_CRASHED = StateType.CRASHED.value
_CANCELLING = StateType.CANCELLING.value
_CANCELLED = StateType.CANCELLED.value


@dataclass(frozen=True, slots=True)
class Ruling:
    """A reported state the rules did not take as it is: the run is in ``state`` instead
    (the state it was in, or the one the rule sets)."""

    rule: Rule
    proposed: str
    state: str

    def describe(self, run: str) -> str:
        return (
            f"{run} is {self.state}, not {self.proposed}: rule {self.rule.name}. {self.rule.reason}"
        )

    def to_json(self, run_id: str) -> dict[str, str]:
        """The ruling on run ``run_id`` as the server answers it."""
        return {"run_id": run_id, "rule": self.rule.name, "proposed": self.proposed,
                "state": self.state}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, str]) -> tuple[str, Ruling]:
        """``(run id, ruling)`` from ``to_json``'s form."""
        rule = next(rule for rule in RULES if rule.name == data["rule"])
        return data["run_id"], cls(rule, data["proposed"], data["state"])


def rule_on(current: str | None, proposed: str) -> Ruling | None:
    """None when a run in state ``current`` (None: no state yet, or a new attempt) may move
    to ``proposed``; otherwise the ruling that says where it stays or goes."""
    if current is None:
        return None
    if current == _CRASHED:
        return Ruling(CRASHED_STAYS_CRASHED, proposed, _CRASHED)
    if current in FINAL_NAMES:
        return Ruling(FINAL_IS_FINAL, proposed, current)
    if current == _CANCELLING and proposed != _CANCELLED:
        ends = _CANCELLED if proposed in FINAL_NAMES else _CANCELLING
        return Ruling(CANCELLING_ENDS_CANCELLED, proposed, ends)
    return None
