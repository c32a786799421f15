"""Search spaces: the JSON schema users write, its validation, and value conversion.

A space maps parameter names to nodes (objects with a "type") or constants (scalars).
Every node becomes a `Dimension` under a dotted label: "lr" at the top, "optimizer.sgd.momentum"
inside a choice's option, where the option is named by its `name` (or `kind`, or `type`)
string constant, else by its position ("layer.0.filters"). So each branch has its own
dimensions, and a branch may give a parameter its own range (adam's and sgd's learning
rates). Samplers
exchange "vals" (label -> natural value, or option index for choices, active labels only)
and `SearchSpace.params_from_vals` turns them into the nested parameters a builder gets.

The package, by concern: model.py (the nodes, their distributions, the dimensions),
parser.py (`parse_space` and its error messages), paths.py (the JSON paths and values those
messages show), values.py (`SearchSpace`: vals to params).
"""

from parzen.service.space.model import (
    BRANCH_NAME_KEYS,
    NAME_PATTERN,
    NODE_TYPES,
    Bounded,
    Categorical,
    Constant,
    Dimension,
    Distribution,
    Gaussian,
    IntRange,
    NodeType,
    Option,
    Scalar,
    SubSpace,
    Vals,
)
from parzen.service.space.parser import (
    PROBABILITY_TOLERANCE,
    SpaceIssue,
    SpaceValidationError,
    parse_space,
)
from parzen.service.space.values import SearchSpace

__all__ = [
    "BRANCH_NAME_KEYS",
    "NAME_PATTERN",
    "NODE_TYPES",
    "PROBABILITY_TOLERANCE",
    "Bounded",
    "Categorical",
    "Constant",
    "Dimension",
    "Distribution",
    "Gaussian",
    "IntRange",
    "NodeType",
    "Option",
    "Scalar",
    "SearchSpace",
    "SpaceIssue",
    "SpaceValidationError",
    "SubSpace",
    "Vals",
    "parse_space",
]
