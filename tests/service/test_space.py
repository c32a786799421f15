from __future__ import annotations

import math
from typing import Any

import pytest

from parzen.service.space import (
    Bounded,
    Categorical,
    Constant,
    Gaussian,
    IntRange,
    SpaceIssue,
    SpaceValidationError,
    parse_space,
)

CONDITIONAL: dict[str, Any] = {
    "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "activation": "relu",
    "layer": {
        "type": "choice",
        "options": [
            {
                "type": "conv",
                "filters": {"type": "int", "low": 8, "high": 64},
                "kernel_size": {"type": "choice", "options": [3, 5]},
            },
            {"type": "dense", "units": {"type": "int", "low": 16, "high": 512, "step": 16}},
            "identity",
        ],
    },
}


def issues_of(raw: object) -> list[SpaceIssue]:
    with pytest.raises(SpaceValidationError) as caught:
        parse_space(raw)
    return caught.value.issues


def only_issue(raw: object) -> SpaceIssue:
    issues = issues_of(raw)
    assert len(issues) == 1, issues
    return issues[0]


def test_every_node_type_parses() -> None:
    space = parse_space(
        {
            "u": {"type": "uniform", "low": -1, "high": 1},
            "qu": {"type": "quniform", "low": 0, "high": 10, "q": 2},
            "lu": {"type": "loguniform", "low": 1e-5, "high": 1},
            "qlu": {"type": "qloguniform", "low": 1, "high": 100, "q": 5},
            "n": {"type": "normal", "mu": 0, "sigma": 1},
            "qn": {"type": "qnormal", "mu": 0, "sigma": 3, "q": 0.5},
            "ln": {"type": "lognormal", "mu": 0, "sigma": 1},
            "qln": {"type": "qlognormal", "mu": 1, "sigma": 1, "q": 1},
            "i": {"type": "int", "low": 1, "high": 8},
            "il": {"type": "int", "low": 1, "high": 1024, "step": 1, "log": True},
            "c": {"type": "choice", "options": ["a", 1, 2.5, True, None]},
            "pc": {"type": "pchoice", "options": ["x", "y"], "probabilities": [0.2, 0.8]},
            "fixed": 3,
        }
    )
    dims = space.dimensions
    assert list(dims) == ["u", "qu", "lu", "qlu", "n", "qn", "ln", "qln", "i", "il", "c", "pc"]
    assert dims["u"].distribution == Bounded(-1.0, 1.0)
    assert dims["qlu"].distribution == Bounded(1.0, 100.0, q=5.0, log=True)
    assert dims["qln"].distribution == Gaussian(1.0, 1.0, q=1.0, log=True)
    assert dims["il"].distribution == IntRange(1, 1024, step=1, log=True)
    pchoice = dims["pc"].distribution
    assert isinstance(pchoice, Categorical) and pchoice.probabilities == (0.2, 0.8)
    assert pchoice.options == (Constant("x"), Constant("y"))
    assert dims["lu"].log and not dims["u"].log and dims["il"].log
    assert dims["c"].categorical and not dims["i"].categorical
    assert dims["lu"].bounds == (1e-5, 1.0) and dims["n"].bounds is None
    assert dims["qn"].kind == "qnormal" and dims["qn"].path == "$.qn"


def test_conditional_params_leave_inactive_branches_out() -> None:
    space = parse_space(CONDITIONAL)
    assert list(space.dimensions) == [
        "lr",
        "layer",
        "layer.conv.filters",
        "layer.conv.kernel_size",
        "layer.dense.units",
    ]
    conv = {"lr": 0.01, "layer": 0, "layer.conv.filters": 32, "layer.conv.kernel_size": 1}
    assert space.params_from_vals(conv) == {
        "lr": 0.01,
        "activation": "relu",
        "layer": {"type": "conv", "filters": 32, "kernel_size": 5},
    }
    dense = {"lr": 0.001, "layer": 1, "layer.dense.units": 48}
    assert space.params_from_vals(dense)["layer"] == {"type": "dense", "units": 48}
    assert space.params_from_vals({"lr": 0.001, "layer": 2})["layer"] == "identity"
    assert space.active_labels(dense) == ["lr", "layer", "layer.dense.units"]


def test_params_from_vals_gives_python_types() -> None:
    space = parse_space(CONDITIONAL)
    params = space.params_from_vals(
        {"lr": 1, "layer": 0.0, "layer.conv.filters": 8.0, "layer.conv.kernel_size": 0}
    )
    assert type(params["lr"]) is float
    assert type(params["layer"]["filters"]) is int and params["layer"]["filters"] == 8
    assert params["layer"]["kernel_size"] == 3


def test_params_from_vals_names_a_missing_or_bad_label() -> None:
    space = parse_space(CONDITIONAL)
    with pytest.raises(ValueError, match=r"'layer\.conv\.filters'"):
        space.params_from_vals({"lr": 0.01, "layer": 0, "layer.conv.kernel_size": 0})
    with pytest.raises(ValueError, match=r"option index in 0\.\.2"):
        space.params_from_vals({"lr": 0.01, "layer": 3})
    with pytest.raises(ValueError, match="must be an integer"):
        space.params_from_vals({"lr": 0.01, "layer": 1, "layer.dense.units": 16.5})


def test_flat_params_uses_labels_and_option_index_for_branches() -> None:
    space = parse_space(CONDITIONAL)
    vals = {"lr": 0.01, "layer": 0, "layer.conv.filters": 9, "layer.conv.kernel_size": 1}
    flat = space.flat_params(vals)
    assert flat == {"lr": 0.01, "layer": 0, "layer.conv.filters": 9, "layer.conv.kernel_size": 5}


def test_branches_get_their_own_dimensions_named_or_numbered() -> None:
    space = parse_space(
        {
            "optimizer": {
                "type": "choice",
                "options": [
                    {"name": "adam", "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}},
                    {"name": "sgd", "lr": {"type": "loguniform", "low": 1e-3, "high": 1e-1}},
                ],
            },
            "arch": {
                "type": "choice",
                "options": [
                    {"units": {"type": "int", "low": 8, "high": 64}},
                    {"units": {"type": "int", "low": 8, "high": 9}},
                ],
            },
        }
    )
    assert list(space.dimensions) == [
        "optimizer",
        "optimizer.adam.lr",
        "optimizer.sgd.lr",
        "arch",
        "arch.0.units",
        "arch.1.units",
    ]
    vals = {"optimizer": 1, "optimizer.sgd.lr": 0.01, "arch": 0, "arch.0.units": 10}
    assert space.params_from_vals(vals) == {
        "optimizer": {"name": "sgd", "lr": 0.01},
        "arch": {"units": 10},
    }


def test_two_options_of_one_name_defining_a_param_differently_is_a_duplicate_label() -> None:
    issue = only_issue(
        {
            "arch": {
                "type": "choice",
                "options": [
                    {"kind": "wide", "units": {"type": "int", "low": 8, "high": 64}},
                    {"kind": "wide", "units": {"type": "int", "low": 8, "high": 128}},
                ],
            }
        }
    )
    assert issue.path == "$.arch.options[1].units"
    assert "duplicate label 'arch.wide.units'" in issue.message
    assert "$.arch.options[0].units" in issue.message and "different names" in issue.message


def test_nested_choices_label_with_dots() -> None:
    block = {
        "type": "choice",
        "options": [{"kernel": {"type": "int", "low": 1, "high": 7}}, "none"],
    }
    space = parse_space({"layer": {"type": "choice", "options": [{"block": block}]}})
    assert "layer.0.block.0.kernel" in space.dimensions
    vals = {"layer": 0, "layer.0.block": 0, "layer.0.block.0.kernel": 3}
    assert space.params_from_vals(vals) == {"layer": {"block": {"kernel": 3}}}


@pytest.mark.parametrize(
    ("node", "path", "message"),
    [
        ({"type": "uniform", "low": 5, "high": 5}, "$.p.low", "low (5) must be < high (5)"),
        (
            {"type": "loguniform", "low": 0, "high": 1},
            "$.p.low",
            "loguniform bounds must be > 0 (got low=0); use uniform for ranges that include 0",
        ),
        (
            {"type": "unifrom", "low": 0, "high": 1},
            "$.p.type",
            "unknown type 'unifrom'; expected one of: choice, int,",
        ),
        ({"type": "unifrom"}, "$.p.type", "(did you mean 'uniform'?)"),
        (
            {"type": "uniform", "low": 0, "high": 1, "hgh": 2},
            "$.p.hgh",
            "unknown field 'hgh' for uniform (did you mean 'high'?)",
        ),
        ({"type": "uniform", "low": 0}, "$.p", "missing field 'high'"),
        ({"type": "uniform", "low": "a", "high": 1}, "$.p.low", "must be a number"),
        ({"type": "uniform", "low": False, "high": 1}, "$.p.low", "booleans are not numbers"),
        ({"type": "uniform", "low": 0, "high": math.inf}, "$.p.high", "must be a finite number"),
        ({"type": "choice", "options": []}, "$.p.options", "choice needs at least one option"),
        (
            {"type": "choice", "options": [1, 3, 3]},
            "$.p.options[2]",
            "duplicate option 3 (same as options[1]; options must be distinct)",
        ),
        (
            {"type": "pchoice", "options": [1, 2], "probabilities": [0.5, 0.4]},
            "$.p.probabilities",
            "probabilities must sum to 1 (got 0.9)",
        ),
        (
            {"type": "pchoice", "options": [1, 2], "probabilities": [1.5, -0.5]},
            "$.p.probabilities[1]",
            "probabilities must be >= 0",
        ),
        (
            {"type": "pchoice", "options": [1, 2], "probabilities": [1]},
            "$.p.probabilities",
            "probabilities has 1 entries but options has 2",
        ),
        ({"type": "int", "low": 0.5, "high": 4}, "$.p.low", "int bounds must be integers"),
        ({"type": "int", "low": 0, "high": 10, "step": 0}, "$.p.step", "step must be >= 1"),
        ({"type": "int", "low": 0, "high": 10, "step": 3}, "$.p.high", "use high 9 or 12"),
        ({"type": "int", "low": 0, "high": 10, "log": True}, "$.p.low", "requires low >= 1"),
        (
            {"type": "int", "low": 1, "high": 9, "step": 2, "log": True},
            "$.p.step",
            "log=true requires step 1",
        ),
        ({"type": "int", "low": 1, "high": 9, "log": "yes"}, "$.p.log", "true or false"),
        ({"type": "quniform", "low": 0, "high": 1, "q": 0}, "$.p.q", "q must be > 0"),
        ({"type": "quniform", "low": 0.2, "high": 0.7, "q": 1}, "$.p.q", "no multiple of q"),
        ({"type": "normal", "mu": 0, "sigma": 0}, "$.p.sigma", "sigma must be > 0"),
        ({"low": 0, "high": 1}, "$.p", "missing field 'type'"),
        ([1, 2], "$.p", "lists are not allowed here"),
    ],
)
def test_each_error_names_its_json_path(node: object, path: str, message: str) -> None:
    issues = issues_of({"p": node})
    assert any(issue.path == path and message in issue.message for issue in issues), issues


def test_errors_deep_inside_options_carry_the_full_path() -> None:
    raw: dict[str, Any] = {
        "layer": {"type": "choice", "options": ["none", {"units": {"type": "int", "low": 8}}]}
    }
    issue = only_issue(raw)
    assert (issue.path, issue.message) == ("$.layer.options[1].units", "missing field 'high'")
    raw["layer"]["options"][1]["units"] = {"type": "int", "low": "8", "high": 16}
    assert only_issue(raw).path == "$.layer.options[1].units.low"


def test_invalid_names_and_empty_space() -> None:
    assert only_issue({}).message.startswith("the search space is empty")
    assert only_issue([1]).path == "$"
    issue = only_issue({"my param": 1})
    assert issue.path == '$["my param"]' and "invalid parameter name" in issue.message
    assert only_issue({"1st": 1}).path == '$["1st"]'
    assert only_issue({"ok": {"type": "choice", "options": [{"bad.name": 1}]}}).path == (
        '$.ok.options[0]["bad.name"]'
    )


def test_object_in_options_is_a_sub_space_even_with_a_type_key() -> None:
    space = parse_space(
        {"net": {"type": "choice", "options": [{"type": "conv", "filters": 16}, {"type": "mlp"}]}}
    )
    assert space.params_from_vals({"net": 0}) == {"net": {"type": "conv", "filters": 16}}


def test_non_finite_constants_are_rejected() -> None:
    assert only_issue({"x": math.nan}).message == "must be a finite number (got nan)"
    issue = only_issue({"c": {"type": "choice", "options": [1.0, math.inf]}})
    assert issue.path == "$.c.options[1]"


def test_all_issues_are_collected_and_listed_in_the_message() -> None:
    with pytest.raises(SpaceValidationError) as caught:
        parse_space(
            {
                "a": {"type": "uniform", "low": 2, "high": 1},
                "b": {"type": "normal", "mu": 0, "sigma": -1},
                "c": {"type": "choice", "options": [{"d": {"type": "int", "low": 1.5, "high": 3}}]},
            }
        )
    paths = [issue.path for issue in caught.value.issues]
    assert paths == ["$.a.low", "$.b.sigma", "$.c.options[0].d.low"]
    assert str(caught.value).startswith("$.a.low: low (2) must be < high (1); $.b.sigma: ")
    assert isinstance(caught.value, ValueError)


def test_raw_is_kept_as_received() -> None:
    space = parse_space(CONDITIONAL)
    assert space.raw == CONDITIONAL and space.raw is not CONDITIONAL


def test_quantized_snap_stays_on_the_grid_and_in_bounds() -> None:
    dist = Bounded(0.15, 0.7, q=0.1)
    assert dist.snap(0.0) == 0.2 and dist.snap(0.7049) == 0.7 and dist.snap(0.34) == 0.3
    assert IntRange(0, 100, step=25).snap(60.0) == 50
    assert IntRange(1, 5).snap(-3.0) == 1
