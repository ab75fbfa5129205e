"""The similarity settings: what is computed and how much of the chance/null/interval machinery.

=====================  =================================  ==============================================
key                    default                            meaning
=====================  =================================  ==============================================
``methods``            svcca, pwcca, linear_cka,          which scores (any subset, in this order)
                       debiased_cka
``variance``           0.9                                share of variance the SVD reduction keeps (§3.1)
``variance_convention`` ``"singular_values"``             ``"singular_values"`` (google/svcca tutorial)
                                                          or ``"squared"`` (true variance); see ``reduce``
``epsilon``            1e-10                              CCA regularisation (thesis §4.3)
``chance_draws``       10                                 Gaussian pairs per chance level (0: none)
``permutations``       100                                row shuffles per permutation null (0: none)
``bootstrap``          100                                resamples per bootstrap interval (0: none)
``interval``           0.95                               level of the bootstrap interval
``seed``               0                                  seeds every draw (reproducible, order-free)
``n``                  ``None``                           cap on the sentences per comparison (first n)
``min_ratio``          10                                 warn when n < min_ratio × the largest dimension
                                                          a method sees
``pairs``              ``{}``                             speech layer → text layer, for layers of one
                                                          side only (stage; ``adaptor`` pairs with the
                                                          last encoder layer without it)
``cross_lingual_``     ``"shared"``                       ``"shared"``: the cross-lingual analyses reduce
``dimensions``                                            every set of one model, layer and modality to
                                                          one dimension, the smallest that keeps
                                                          ``variance`` of every such set (thesis Table
                                                          A.7); ``"per_set"``: each set to its own
=====================  =================================  ==============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from flip_pipeline.errors import FlipInputError
from flip_pipeline.settings import settings_from_dict
from flip_pipeline.similarity.cca import EPSILON
from flip_pipeline.similarity.reduce import CONVENTIONS, DEFAULT_CONVENTION, DEFAULT_VARIANCE

METHOD_NAMES = ("svcca", "pwcca", "linear_cka", "debiased_cka")
CROSS_LINGUAL_DIMENSIONS = ("shared", "per_set")


@dataclass(frozen=True)
class SimilaritySettings:
    """See the module's table; built with :meth:`from_dict`, checked on construction."""

    methods: tuple[str, ...] = METHOD_NAMES
    variance: float = DEFAULT_VARIANCE
    variance_convention: str = DEFAULT_CONVENTION
    epsilon: float = EPSILON
    chance_draws: int = 10
    permutations: int = 100
    bootstrap: int = 100
    interval: float = 0.95
    seed: int = 0
    n: int | None = None
    min_ratio: float = 10.0
    pairs: dict[str, str] = field(default_factory=dict)
    cross_lingual_dimensions: str = "shared"
    key: str = field(default="settings", compare=False, repr=False)  # config key errors name

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any] | None, key: str = "settings") -> SimilaritySettings:
        """Settings from a config entry; an unknown or bad value is an error naming ``{key}.{field}``."""
        spec = dict(spec or {})
        if "key" in spec:
            raise FlipInputError(f"{key}.key: unknown setting")
        if "methods" in spec and isinstance(spec["methods"], (list, tuple)):
            spec["methods"] = tuple(spec["methods"])
        return settings_from_dict(cls, {**spec, "key": key}, key)

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> FlipInputError:
            return FlipInputError(f"{self.key}.{name}: {getattr(self, name)!r} {why}")

        if not self.methods or not isinstance(self.methods, tuple) or set(self.methods) - set(METHOD_NAMES):
            raise bad("methods", f"must be a non-empty list of {', '.join(METHOD_NAMES)}")
        if not 0.0 < self.variance <= 1.0:
            raise bad("variance", "must be in (0, 1]")
        if self.variance_convention not in CONVENTIONS:
            raise bad("variance_convention", f"must be one of {', '.join(CONVENTIONS)}")
        if not self.epsilon >= 0.0:
            raise bad("epsilon", "must be ≥ 0")
        for name in ("chance_draws", "permutations", "bootstrap", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise bad(name, "must be an integer ≥ 0")
        if not 0.0 < self.interval < 1.0:
            raise bad("interval", "must be in (0, 1)")
        if self.n is not None and (not isinstance(self.n, int) or self.n < 4):
            raise bad("n", "must be an integer ≥ 4 or null")
        if not self.min_ratio >= 0.0:
            raise bad("min_ratio", "must be ≥ 0")
        if not isinstance(self.pairs, dict) or not all(isinstance(v, str) for v in self.pairs.values()):
            raise bad("pairs", "must map layer names to layer names")
        if self.cross_lingual_dimensions not in CROSS_LINGUAL_DIMENSIONS:
            raise bad("cross_lingual_dimensions", f"must be one of {', '.join(CROSS_LINGUAL_DIMENSIONS)}")

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values (recorded beside the scores)."""
        out = asdict(self)
        out.pop("key")
        out["methods"] = list(self.methods)
        return out
