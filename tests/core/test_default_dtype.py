"""``tg.set_default_dtype``: the default float dtype, as ``torch.set_default_dtype``."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


@pytest.fixture
def float64_default():
    """float64 as the default for one test; float32 again afterwards, even if it fails."""
    tg.set_default_dtype(tg.float64)
    yield
    tg.set_default_dtype(tg.float32)


MADE = {
    "a Python float": lambda: tg.tensor(1.5),
    "a list of floats": lambda: tg.tensor([1.5, 2]),
    "zeros": lambda: tg.zeros(2),
    "ones": lambda: tg.ones(2, 3),
    "empty": lambda: tg.empty(2),
    "full of a float": lambda: tg.full((2,), 0.5),
    "rand": lambda: tg.rand(2),
    "randn": lambda: tg.randn(2),
    "arange of floats": lambda: tg.arange(0, 1, 0.25),
    "linspace": lambda: tg.linspace(0, 1, 3),
    "eye": lambda: tg.eye(2),
    "int / int": lambda: tg.tensor([1, 2]) / tg.tensor([2, 4]),
    "exp of ints": lambda: tg.tensor([1, 2]).exp(),
    "mean of ints": lambda: tg.tensor([1, 2]).mean(),
    "int tensor + Python float": lambda: tg.tensor([1, 2]) + 2.5,
}


@pytest.mark.parametrize("name", MADE)
def test_what_takes_the_default_float_takes_the_one_set(name, float64_default):
    assert tg.get_default_dtype() == tg.float64
    assert MADE[name]().dtype == np.float64


@pytest.mark.parametrize("name", MADE)
def test_float32_is_the_default_again_after_setting_it_back(name):
    tg.set_default_dtype(tg.float64)
    tg.set_default_dtype(tg.float32)
    assert MADE[name]().dtype == np.float32 == tg.get_default_dtype()


def test_ints_bools_and_typed_tensors_keep_their_dtypes(float64_default):
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor([True]).dtype == np.bool_
    assert tg.arange(3).dtype == np.int64
    assert tg.full((2,), 3).dtype == np.int64
    assert tg.zeros(2, dtype=tg.float32).dtype == np.float32
    assert tg.tensor(np.ones(2, np.float32)).dtype == np.float32   # a NumPy array keeps its own
    assert (tg.zeros(2, dtype=tg.float32) + 2.5).dtype == np.float32  # a number does not widen


def test_tensors_made_before_keep_their_dtype():
    before = tg.tensor([1.5])
    tg.set_default_dtype("double")
    try:
        assert before.dtype == np.float32 and tg.tensor([1.5]).dtype == np.float64
    finally:
        tg.set_default_dtype("float32")
    assert tg.tensor([1.5]).dtype == np.float32


def test_layers_are_made_in_the_default_dtype_and_train(float64_default):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.PReLU(), nn.BatchNorm1d(4),
                          nn.Linear(4, 2))
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert {b.dtype for name, b in model.named_buffers() if "num_batches" not in name} == \
        {np.dtype(np.float64)}
    x = tg.tensor(np.random.default_rng(0).standard_normal((8, 3)))
    loss = nn.CrossEntropyLoss()(model(x), tg.tensor([0, 1] * 4))
    loss.backward()
    assert loss.dtype == np.float64 and model[0].weight.grad.dtype == np.float64
    weight = model[0].weight
    assert tg.gradcheck(lambda w: (x @ w.T).tanh().sum(), [weight.detach().requires_grad_()])


@pytest.mark.parametrize("dtype", [tg.int64, "int32", tg.bool_])
def test_only_a_float_dtype_can_be_the_default(dtype):
    with pytest.raises(TypeError, match="only floating-point types"):
        tg.set_default_dtype(dtype)
    assert tg.get_default_dtype() == tg.float32
