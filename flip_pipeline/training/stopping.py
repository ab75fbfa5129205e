"""The dev-recall criterion of the training loop: which checkpoint to keep and when to stop.

Dev recall is evaluated every ``eval_every`` iterations and compared with the best so far.
As in the published loop, ``patience`` evaluations without improvement are tolerated and
the next one stops training (``patience`` 5 with ``eval_every`` 3: 18 iterations past the
best). A probe whose dev recall dips for a few evaluations before it improves again (the
bias-free recall of FLiP on USE embeddings of Tatoeba, see docs/findings.md)
is stopped in the dip by a short patience; ``min_iterations`` (default 0) keeps training
going at least that long whatever the dev recall does. The kept checkpoint is always the
one with the best dev recall.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DevCriterion:
    """State of the stopping rule over the dev evaluations of one run.

    Args:
        patience: evaluations without improvement tolerated; the next one stops training.
        min_iterations: no stop before this iteration.
        best: the dev recall before training (iteration 0), the first best.
    """

    patience: int
    min_iterations: int
    best: float
    stale: int = field(init=False, default=0)

    def update(self, score: float) -> bool:
        """Record one evaluation's dev recall; ``True`` when it beats every earlier one (keep it)."""
        if score > self.best:
            self.best, self.stale = score, 0
            return True
        self.stale += 1
        return False

    def should_stop(self, iteration: int) -> bool:
        """More than ``patience`` stale evaluations in a row, and at least ``min_iterations`` run."""
        return self.stale > self.patience and iteration >= self.min_iterations
