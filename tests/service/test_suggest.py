"""service/suggest.py: the one "did you mean" of the space parser's and the algorithm
settings' error messages."""

from parzen.service.suggest import did_you_mean


def test_the_closest_candidate_is_suggested_in_quotes() -> None:
    """Fails if a misspelt word gets no hint, or a hint in another form than the messages
    the README shows ("unknown type 'unifrom'; ... (did you mean 'uniform'?)")."""
    assert did_you_mean("unifrom", ["choice", "uniform", "loguniform"]) == (
        " (did you mean 'uniform'?)"
    )


def test_nothing_is_suggested_when_no_candidate_is_close() -> None:
    """Fails if an unrelated word gets a hint that would mislead."""
    assert did_you_mean("zzz", ["choice", "uniform"]) == ""
    assert did_you_mean("tpe", []) == ""
