"""Averages of a similarity table over languages: what the thesis's line plots show (§3.1 step 4)."""

from __future__ import annotations

import pandas as pd

AVERAGED = ("score", "chance", "null_mean", "null_p95", "ci_low", "ci_high")


def layer_means(scores: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean over language pairs of each layer pair and method (and of the columns ``by``, e.g.
    ``("resource_a",)`` for the per-resource-level curves), in the table's layer order.

    Same-language cells of the cross-lingual analyses are left out (thesis §3.2); the
    cross-modal analysis has only those. Adds ``comparisons``, the number of rows averaged.
    """
    keep = (scores["analysis"] == "cross_modal") | (scores["language_a"] != scores["language_b"])
    keys = ["encoder", "analysis", "layer_a", "layer_b", "method", *by]
    grouped = scores[keep].groupby(keys, sort=False)
    out = grouped[list(AVERAGED)].mean()
    out["comparisons"] = grouped.size()
    return out.reset_index()
