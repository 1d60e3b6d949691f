"""Random search: independent draws from the space (rejection sampling against its constraints), without
replacement (the base class drops designs already asked or told)."""
from __future__ import annotations

from typing import Any, Sequence

from imcnas.search.strategies.base import Strategy, rng_state, set_rng_state
from imcnas.search.trial import Sample, Trial


class RandomSearch(Strategy):
    """Uniform (log-uniform for ``log`` parameters) random samples; ignores results."""

    name = "random"

    def __init__(self) -> None:
        super().__init__()

    def _ask(self, n: int) -> list[Sample]:
        return [self.space.sample(self.rng) for _ in range(n)]

    def _tell(self, trials: Sequence[Trial]) -> None:
        pass

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng)}

    def _load(self, d: dict[str, Any]) -> None:
        set_rng_state(self.rng, d["rng"])
