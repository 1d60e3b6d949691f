"""A REINFORCE controller (Williams, 1992) as used by NACIM: one independent categorical policy per parameter.

Each parameter is discretised to a grid (all values of a Choice or of a small Int; otherwise ``bins`` values,
ends included, log-spaced where the parameter is ``log``; the default 11 includes the midpoint too). A sample
draws one grid value per parameter (inactive ones are dropped); for a Float or a large Int the value is drawn
uniformly (in the encoded coordinate) from the chosen grid value's cell (the points nearer to it than to its
neighbours), so a converged policy keeps proposing new designs rather than repeating grid points. Reward (multi-objective): minus the additive epsilon indicator of the
trial's objectives against the non-dominated front of all earlier trials, in objectives normalised by the
running min/max; a trial that extends the front scores >= 0, a dominated one < 0 (single objective: minus
the normalised gap to the best so far). Failed or rejected trials score -1. The advantage is the reward
minus an exponential-moving-average baseline, divided by a moving average of its magnitude. Policy-gradient
step: ``logits += lr * mean(advantage * (onehot - softmax))`` plus an entropy bonus. Pure numpy.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.strategies.base import Strategy, nondominated_rank, rng_state, set_rng_state
from imcnas.search.trial import Sample, Trial
from imcnas.space.params import Choice, Int

_FAILED_REWARD = -1.0


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


class ReinforceStrategy(Strategy):
    """Policy-gradient controller over a discretised space."""

    name = "reinforce"

    def __init__(self, *, bins: int = 11, lr: float = 1.0, baseline_decay: float = 0.8,
                 entropy: float = 0.02) -> None:
        super().__init__()
        if bins < 2 or lr <= 0 or not 0 <= baseline_decay < 1 or entropy < 0:
            raise ConfigError("reinforce needs bins >= 2, lr > 0, 0 <= baseline_decay < 1 and entropy >= 0")
        self.bins, self.lr, self.baseline_decay, self.entropy = int(bins), float(lr), float(baseline_decay), \
            float(entropy)

    def _setup(self) -> None:
        self.grids = {n: p.grid(self.bins) for n, p in self.space.params.items()}
        self._coords = {n: np.array([self.space.params[n].encode(v) for v in g]) for n, g in self.grids.items()}
        self._cells: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # grid cells of parameters with more values
        for n, p in self.space.params.items():
            c = self._coords[n]
            if not isinstance(p, Choice) and len(c) > 1 and not (isinstance(p, Int) and p.n <= len(c)):
                mid = (c[1:] + c[:-1]) / 2
                self._cells[n] = (np.concatenate([[0.0], mid]), np.concatenate([mid, [1.0]]))
        self.logits = {n: np.zeros(len(g)) for n, g in self.grids.items()}
        self.baseline: float | None = None
        self.scale = 1.0
        self.front: list[list[float]] = []
        self.lo: list[float] | None = None
        self.hi: list[float] | None = None

    def policy(self) -> dict[str, np.ndarray]:
        """The current probability of each grid value, per parameter."""
        return {n: _softmax(z) for n, z in self.logits.items()}

    def _draw(self, probs: dict[str, np.ndarray]) -> Sample:
        values = {}
        for n, p in probs.items():
            i = int(self.rng.choice(len(p), p=p))
            if n in self._cells:  # a uniform point of the chosen cell
                lo, hi = self._cells[n][0][i], self._cells[n][1][i]
                values[n] = self.space.params[n].decode(float(lo + (hi - lo) * self.rng.random()))
            else:
                values[n] = self.grids[n][i]
        return self.space.prune(values)

    def _ask(self, n: int) -> list[Sample]:
        probs = self.policy()
        return [self.feasible(lambda: self._draw(probs)) for _ in range(n)]

    def _index(self, name: str, value: Any) -> int:
        return int(np.argmin(np.abs(self._coords[name] - self.space.params[name].encode(value))))

    def _rewards(self, F: np.ndarray) -> np.ndarray:
        lo = np.minimum(F.min(0), self.lo) if self.lo is not None else F.min(0)
        hi = np.maximum(F.max(0), self.hi) if self.hi is not None else F.max(0)
        self.lo, self.hi = lo.tolist(), hi.tolist()
        span = np.where(hi > lo, hi - lo, 1.0)
        ref = np.array(self.front) if self.front else F[nondominated_rank(F) == 0]
        diff = (F[:, None, :] - ref[None, :, :]) / span
        eps = diff.max(-1).min(-1)
        both = np.vstack([ref, F])
        self.front = both[nondominated_rank(both) == 0].tolist()
        return -eps

    def _tell(self, trials: Sequence[Trial]) -> None:
        trials = [t for t in trials if t.sample]
        if not trials:
            return
        rewards = np.full(len(trials), _FAILED_REWARD)
        done = [i for i, t in enumerate(trials) if t.minimised(self.objectives) is not None]
        if done:
            rewards[done] = self._rewards(np.array([trials[i].minimised(self.objectives) for i in done]))
        mean = float(rewards.mean())
        if self.baseline is None:
            self.baseline = mean
        adv = rewards - self.baseline
        self.scale = self.baseline_decay * self.scale + (1 - self.baseline_decay) * float(np.abs(adv).mean() + 1e-8)
        adv = adv / max(self.scale, 1e-8)
        probs = self.policy()
        grads = {n: np.zeros_like(z) for n, z in self.logits.items()}
        for a, t in zip(adv, trials):
            for name, value in t.sample.items():
                if name in grads and self.space.params[name].check(value) is None:
                    grads[name][self._index(name, value)] += a
                    grads[name] -= a * probs[name]
        for name, p in probs.items():
            h = -float(np.sum(p * np.log(p + 1e-12)))
            ent = -p * (np.log(p + 1e-12) + h)
            self.logits[name] = self.logits[name] + self.lr * (grads[name] / len(trials) + self.entropy * ent)
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "logits": {n: z.tolist() for n, z in self.logits.items()},
                "baseline": self.baseline, "scale": self.scale, "front": self.front, "lo": self.lo, "hi": self.hi}

    def _load(self, d: dict[str, Any]) -> None:
        set_rng_state(self.rng, d["rng"])
        self.logits = {n: np.array(z, dtype=float) for n, z in d["logits"].items()}
        self.baseline, self.scale, self.front = d["baseline"], float(d["scale"]), d["front"]
        self.lo, self.hi = d["lo"], d["hi"]
