"""How finished trials rank for the samplers, pruned ones honestly.

A trial pruned at epoch 2 did not reach the loss it would have had at the end: fed to TPE
with its last value, as if finished, it can land in the "good" group beside trials that
trained ten times longer. As Optuna's TPE ranks them (by the step reached, then the value),
a pruned trial ranks below every complete trial and below every pruned trial that got
further, and among those pruned at the same epoch by its value there.

Both TPEs only ever sort the losses (the good group is the best gamma fraction), so this is
done with the losses alone, by a transform that keeps their order: a complete trial's loss
is squashed into [-1/2, 1/2] by atan(x)/pi, and a pruned trial's gets an offset of
2 * (1 + STEP_CAP - epochs reached), so that every tier lies above the ones that got further
(a gap of 1 between tiers, even for infinite values).
Nothing in tpe.py or tpe_mv.py changes.
"""

from __future__ import annotations

import math

STEP_CAP = 100_000  # objectives train at most this many epochs (schemas.ObjectiveSettings)


def ranked_loss(loss: float, *, pruned_at: int | None) -> float:
    """A loss with the order above: `pruned_at` is the last epoch a pruned trial reported
    (None for a complete trial)."""
    squashed = math.atan(loss) / math.pi
    if pruned_at is None:
        return squashed
    return 2.0 * (1 + STEP_CAP - min(max(pruned_at, 0), STEP_CAP)) + squashed
