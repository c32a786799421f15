"""Asynchronous successive halving (ASHA, Li et al. 2020) and Hyperband over ASHA brackets.

Rungs are epochs `min_epochs * reduction_factor**k` below `max_epochs`. A trial reaching a
rung continues only if its value is among the best `n // reduction_factor` of the `n`
trials that reached that rung, itself included (ties continue), or while the rung has fewer
than `reduction_factor` entries: too few to judge. Asynchronous: a trial is judged against
the entries there are when it arrives, and a trial stopped at a rung stays stopped.

Hyperband runs `floor(log_eta(max_epochs / min_epochs)) + 1` such brackets; bracket `b` has
its first rung at `min_epochs * eta**b` and its own rungs (trials of different brackets never
compete). A trial's bracket is drawn as Optuna's HyperbandPruner draws it: crc32 of
"<study name>_<trial number>" modulo the sum of the brackets' budgets
`ceil(n_brackets * eta**s / (s + 1))`, s = n_brackets - 1 - b, so the aggressive brackets
get the most trials.

The functions here are pure; the rung entries live in SQL (service/storage/rungs.py).
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Sequence
from dataclasses import dataclass

_FRACTIONS = {2: "half", 3: "third", 4: "quarter", 5: "fifth"}


@dataclass(frozen=True, slots=True)
class Judgement:
    keep: bool
    cutoff: float | None  # the worst value that continues; None while too few to judge
    entries: int  # trials in the rung, this one included


@dataclass(frozen=True, slots=True)
class HalvingPruner:
    """ASHA when `hyperband` is false, else Hyperband's brackets of ASHA."""

    min_epochs: int = 1
    reduction_factor: int = 3
    max_epochs: int | None = None
    hyperband: bool = False

    @property
    def n_brackets(self) -> int:
        if not self.hyperband or self.max_epochs is None:
            return 1
        ratio = self.max_epochs / self.min_epochs
        # a small epsilon: log(27, 3) is 3.0000000000000004 or 2.9999999999999996
        return max(1, math.floor(math.log(ratio, self.reduction_factor) + 1e-9) + 1)

    def bracket(self, study_name: str, number: int) -> int:
        if self.n_brackets == 1:
            return 0
        budgets = [self._bracket_budget(b) for b in range(self.n_brackets)]
        draw = binascii.crc32(f"{study_name}_{number}".encode()) % sum(budgets)
        for index, budget in enumerate(budgets):
            if draw < budget:
                return index
            draw -= budget
        raise AssertionError("the draw is below the budgets' sum")  # pragma: no cover

    def rungs(self, bracket: int = 0) -> list[int]:
        """The rung epochs of `bracket`, in order (a long list cut at 64 without max_epochs)."""
        epochs: int = self.min_epochs * self.reduction_factor**bracket
        out: list[int] = []
        while (self.max_epochs is None or epochs < self.max_epochs) and len(out) < 64:
            out.append(epochs)
            epochs *= self.reduction_factor
        return out

    def rung_at(self, step: int, bracket: int = 0) -> int | None:
        """The highest rung at or below `step`, None before the first."""
        reached = [epochs for epochs in self.rungs(bracket) if epochs <= step]
        return reached[-1] if reached else None

    def judge(self, value: float, others: Sequence[float], *, maximize: bool) -> Judgement:
        """Whether `value` continues past a rung whose other entries are `others`."""
        entries = len(others) + 1
        keep_count = entries // self.reduction_factor
        if keep_count == 0:
            return Judgement(True, None, entries)
        ranked = sorted([*others, value], reverse=maximize)
        cutoff = ranked[keep_count - 1]
        keep = value >= cutoff if maximize else value <= cutoff
        return Judgement(keep, cutoff, entries)

    def reason(
        self, *, epoch: int, metric: str, value: float, judgement: Judgement, maximize: bool
    ) -> str:
        fraction = _FRACTIONS.get(self.reduction_factor, f"1/{self.reduction_factor}")
        side = "below" if maximize else "above"
        return (
            f"epoch {epoch}: {metric} {value:.4g} is {side} the rung's top {fraction} "
            f"({judgement.entries} configurations), cut-off {judgement.cutoff:.4g}"
        )

    def _bracket_budget(self, bracket: int) -> int:
        s = self.n_brackets - 1 - bracket
        return math.ceil(self.n_brackets * float(self.reduction_factor**s) / (s + 1))
