"""Random search: independent draws from the space (rejection sampling against its constraints)."""
from __future__ import annotations

from typing import Any, Sequence

from imcnas.search.strategies.base import Strategy, rng_state, set_rng_state
from imcnas.search.trial import Sample, Trial


class RandomSearch(Strategy):
    """Uniform (log-uniform for ``log`` parameters) random samples; ignores results."""

    name = "random"

    def __init__(self) -> None:
        super().__init__()

    def ask(self, n: int) -> list[Sample]:
        return [self.space.sample(self.rng) for _ in range(self._check_n(n))]

    def tell(self, trials: Sequence[Trial]) -> None:
        self.space  # noqa: B018 - raises unless set up

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng)}

    def _load(self, d: dict[str, Any]) -> None:
        set_rng_state(self.rng, d["rng"])
