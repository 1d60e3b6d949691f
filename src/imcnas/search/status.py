"""What a running study reports: counts, the trials so far, the ETA from this run's pace, the most common
failure reasons, and whether Ctrl-C stopped it."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from imcnas.search.trial import Trial, TrialState

__all__ = ["StudyStatus"]


@dataclass
class StudyStatus:
    """What the progress display shows."""

    evaluated: int = 0
    budget: int = 0
    complete: int = 0
    infeasible: int = 0
    failed: int = 0
    trials: list[Trial] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    message: str = ""
    in_batch: int = 0  # evaluations finished in the running batch, not stored yet
    done_this_run: int = 0  # evaluations finished since this process started (for the ETA)
    interrupted: bool = False
    duplicates: int = 0  # asks of already-evaluated designs this run (told, never evaluated or stored)

    def eta_s(self) -> float | None:
        """Seconds to the budget at this run's pace so far, or None before the first evaluation."""
        done = self.done_this_run + self.in_batch
        if done <= 0:
            return None
        left = max(0, self.budget - self.evaluated - self.in_batch)
        return (time.time() - self.started) / done * left

    def failure_summary(self, top: int = 3) -> list[tuple[str, int]]:
        """The most common reasons of failed trials, with their counts."""
        reasons = Counter(str(t.info.get("reason", "?")) for t in self.trials if t.state is TrialState.FAILED
                          and not t.info.get("interrupted"))
        return reasons.most_common(top)
