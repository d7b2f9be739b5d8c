"""The interaction policy: the observations of a chunk become silent, or respond(task)."""

from listenloop.decision.base import Action, Decision, DecisionPolicy

__all__ = ["Action", "Decision", "DecisionPolicy"]
