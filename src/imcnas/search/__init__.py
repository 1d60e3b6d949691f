"""Search: trial records, objectives and ask/tell strategies (see ``imcnas.search.strategies``)."""
from __future__ import annotations

from imcnas.search.strategies import Strategy, get_strategy, list_strategies
from imcnas.search.trial import Objective, Trial, TrialState

__all__ = ["Objective", "Strategy", "Trial", "TrialState", "get_strategy", "list_strategies"]
