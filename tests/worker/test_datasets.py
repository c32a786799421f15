from __future__ import annotations

import numpy as np
import pytest

from parzen.worker.datasets import ArrayDataset, Arrays, SplitSpec, split_indices
from parzen.worker.datasets.builtin import BreastCancer, Digits, DigitsFlat, Regression, Wine

NUM_ROWS = 300


class Rows(ArrayDataset):
    """Row i carries its index in the raw input "row", so splits can be traced to rows."""

    name = "rows"
    task = "classification"
    raw_inputs = frozenset({"row"})

    def arrays(self) -> tuple[Arrays, Arrays]:
        rng = np.random.default_rng(7)
        features = rng.normal(loc=5.0, scale=3.0, size=(NUM_ROWS, 4))
        x = {"row": np.arange(NUM_ROWS, dtype=np.float64)[:, None], "features": features}
        return x, np.arange(NUM_ROWS) % 3

    def raw_features(self) -> np.ndarray:
        x, _ = self.arrays()
        assert isinstance(x, dict)
        features: np.ndarray = x["features"]
        return features


def rows_of(split_x: Arrays) -> np.ndarray:
    assert isinstance(split_x, dict)
    rows: np.ndarray = split_x["row"][:, 0].astype(int)
    return rows


def single(value: Arrays) -> np.ndarray:
    assert isinstance(value, np.ndarray)
    return value


@pytest.mark.parametrize(
    ("dataset", "task", "input_shape", "num_classes"),
    [
        (Digits(), "classification", (8, 8, 1), 10),
        (DigitsFlat(), "classification", (64,), 10),
        (BreastCancer(), "classification", (30,), 2),
        (Wine(), "classification", (13,), 3),
        (Regression(), "regression", (20,), None),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_builtin_shapes_and_types(dataset, task, input_shape, num_classes):
    data = dataset.load_search(SplitSpec())

    assert data.info.name == dataset.name
    assert data.info.task == task
    assert dict(data.info.input_shapes) == {"input": input_shape}
    assert data.info.num_classes == num_classes
    assert data.info.output_names == ("output",)
    for split in (data.train, data.validation):
        assert single(split.x).shape[1:] == input_shape
        assert single(split.x).dtype == np.float32
        assert single(split.y).shape == (len(split),)
    if task == "classification":
        assert single(data.train.y).dtype == np.int64
        assert set(np.unique(single(data.train.y))) == set(range(num_classes))
    total = len(data.train) + len(data.validation) + len(dataset.load_test(SplitSpec()))
    assert len(data.validation) == pytest.approx(0.2 * total, abs=2)


def test_regression_has_about_2000_rows():
    data = Regression().load_search(SplitSpec())
    assert len(data.train) + len(data.validation) == 1600
    assert single(data.train.y).dtype == np.float32


def test_digits_images_are_scaled_to_unit_range_not_standardized():
    data = Digits().load_search(SplitSpec())
    assert single(data.train.x).min() == 0.0
    assert single(data.train.x).max() == 1.0


def test_splits_are_deterministic_for_a_spec_and_change_with_the_seed():
    first = Rows().load_search(SplitSpec(seed=3))
    again = Rows().load_search(SplitSpec(seed=3))
    other = Rows().load_search(SplitSpec(seed=4))

    assert np.array_equal(rows_of(first.train.x), rows_of(again.train.x))
    assert np.array_equal(rows_of(first.validation.x), rows_of(again.validation.x))
    assert np.array_equal(first.train.x["features"], again.train.x["features"])
    assert not np.array_equal(rows_of(first.validation.x), rows_of(other.validation.x))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_validation_and_test_rows_partition_the_data(seed):
    spec = SplitSpec(seed=seed, validation_fraction=0.25, test_fraction=0.15)
    search = Rows().load_search(spec)
    test = Rows().load_test(spec)

    train_rows, val_rows = set(rows_of(search.train.x)), set(rows_of(search.validation.x))
    test_rows = set(rows_of(test.x))
    assert not train_rows & val_rows
    assert not (train_rows | val_rows) & test_rows
    assert train_rows | val_rows | test_rows == set(range(NUM_ROWS))
    assert len(test_rows) == 45
    assert len(val_rows) == 75


def test_load_search_returns_no_test_split_and_no_test_rows():
    spec = SplitSpec(seed=5)
    search = Rows().load_search(spec)
    test_rows = set(rows_of(Rows().load_test(spec).x))

    assert set(vars(search)) == {"info", "train", "validation"}
    searched = np.concatenate([rows_of(search.train.x), rows_of(search.validation.x)])
    assert test_rows.isdisjoint(searched)


def test_splits_are_stratified_for_classification():
    spec = SplitSpec(seed=11)
    search = Rows().load_search(spec)
    test = Rows().load_test(spec)
    for split in (search.train, search.validation, test):
        counts = np.bincount(single(split.y), minlength=3)
        assert counts.max() - counts.min() <= 1


def test_standardization_uses_train_statistics_only():
    spec = SplitSpec(seed=2)
    dataset = Rows()
    raw = dataset.raw_features()
    search = dataset.load_search(spec)
    test = dataset.load_test(spec)
    train_raw = raw[rows_of(search.train.x)]
    mean, std = train_raw.mean(axis=0), train_raw.std(axis=0)

    np.testing.assert_allclose(search.train.x["features"].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(search.train.x["features"].std(axis=0), 1.0, atol=1e-5)
    for split in (search.validation, test):
        expected = (raw[rows_of(split.x)] - mean) / std
        np.testing.assert_allclose(split.x["features"], expected, rtol=1e-5, atol=1e-5)
    all_rows_mean = raw.mean(axis=0)
    assert not np.allclose(mean, all_rows_mean)


def test_constant_feature_does_not_divide_by_zero():
    class Constant(ArrayDataset):
        name = "constant"
        task = "regression"

        def arrays(self) -> tuple[Arrays, Arrays]:
            x = np.ones((50, 2))
            x[:, 1] = np.arange(50)
            return x, np.arange(50, dtype=float)

    data = Constant().load_search(SplitSpec())
    assert np.isfinite(single(data.train.x)).all()
    assert (single(data.train.x)[:, 0] == 0).all()


@pytest.mark.parametrize("fractions", [(0.0, 0.2), (0.2, 1.0), (0.5, 0.5), (-0.1, 0.2)], ids=str)
def test_split_spec_rejects_fractions_that_leave_no_rows(fractions):
    validation, test = fractions
    with pytest.raises(ValueError, match="fraction"):
        SplitSpec(validation_fraction=validation, test_fraction=test)


def test_split_indices_holds_the_test_rows_out_first():
    # The test rows depend only on the seed and test_fraction, not on validation_fraction:
    # changing the validation share must never move rows into or out of the sealed test set.
    labels = np.arange(200) % 4
    small = split_indices(200, SplitSpec(seed=9, validation_fraction=0.1), labels)
    large = split_indices(200, SplitSpec(seed=9, validation_fraction=0.4), labels)
    assert np.array_equal(small.test, large.test)
    assert len(small.validation) == 20
    assert len(large.validation) == 80
