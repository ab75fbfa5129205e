"""What every planner of :mod:`flip_pipeline.plan` starts from: a validated config and its results folder."""

from __future__ import annotations

from typing import Any


class ConfigPlan:
    """A plan read from a validated config (:func:`flip_pipeline.config.validation.validate_config`).

    Args:
        config: the validated config.
        results: the results folder every planned path lies under.
    """

    def __init__(self, config: dict[str, Any], results: str):
        self.config = config
        self.results = results
