"""Small integer dtypes (int8, int16, uint8) and bool, as PyTorch treats them.

* the names: ``tg.int8``, ``tg.int16`` (``tg.short``), ``tg.uint8`` and the conversions
  ``byte()``, ``char()``, ``short()``;
* sums of bool and unsigned tensors are int64 (NumPy's uint8 sum is uint64);
* ``sign`` of a bool tensor is itself, ``relu`` of one is refused;
* a float-valued function of a small-int tensor gives the default float and the value of
  the same function of the float32 tensor: nothing is computed in the small dtype first,
  where ``100 + 100`` is ``-56`` in int8 and ``-1`` is ``255`` in uint8 (before: the norm,
  logsumexp, pdist, pairwise and cosine distances, the trapezoid rule, logsigmoid, softmin,
  Lp pooling, local response normalisation and the binary cross-entropies did, and gave
  wrong numbers with no error).

SMALL_INT_FUZZ_EXAMPLES raises the number of drawn examples (default 25).
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from fuzzing import examples, fuzz_settings
from tinygrad_opt import nn

SETTINGS = fuzz_settings(examples("SMALL_INT_FUZZ_EXAMPLES", 25))
SMALL_INTS = [np.int8, np.int16, np.uint8]


def test_the_dtype_names_and_conversions():
    assert (tg.int8, tg.int16, tg.uint8) == (np.int8, np.int16, np.uint8)
    assert tg.short == tg.int16
    x = tg.tensor([300, -1, 7])
    assert x.byte().dtype == np.uint8 and x.byte().tolist() == [44, 255, 7]  # wraps
    assert x.char().dtype == np.int8 and x.char().tolist() == [44, -1, 7]
    assert x.short().dtype == np.int16 and x.short().tolist() == [300, -1, 7]
    assert tg.tensor([1, 2], dtype=tg.uint8).dtype == np.uint8
    assert tg.zeros(2, dtype=tg.int8).dtype == np.int8
    assert float(tg.tensor([2.5])) == 2.5 and int(tg.tensor(7, dtype=tg.uint8)) == 7


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.bool_])
def test_sums_of_bool_and_small_ints_are_int64(dtype, device):
    values = np.array([[200, 100, 1], [250, 3, 0]]).astype(dtype)
    x = tg.tensor(values, device=device)
    exact = values.astype(np.int64)
    for total, expected in [(x.sum(), exact.sum()), (x.sum(0), exact.sum(0)),
                            (x.sum(1, keepdim=True), exact.sum(1, keepdims=True)),
                            (tg.sum(x), exact.sum()), (x.nansum(), exact.sum()),
                            (x[:, :2].trace(), np.trace(exact[:, :2]))]:
        assert total.dtype == np.int64
        assert total.tolist() == expected.tolist()
    assert x.sum(dtype=tg.int32).dtype == np.int32


def test_sign_of_a_bool_tensor_is_itself(device):
    flags = tg.tensor([True, False, True], device=device)
    for signs in (flags.sign(), tg.sgn(flags), tg.sign(flags)):
        assert signs.dtype == np.bool_ and signs.tolist() == [True, False, True]
    assert tg.tensor([3, 0], dtype=tg.uint8).sign().tolist() == [1, 0]


def test_relu_of_a_bool_tensor_is_refused():
    flags = tg.tensor([True, False])
    for call in (flags.relu, lambda: F.relu(flags), lambda: nn.ReLU()(flags)):
        with pytest.raises(RuntimeError, match="relu: Boolean inputs are not supported"):
            call()
    assert tg.tensor([-2, 3], dtype=tg.int8).relu().tolist() == [0, 3]


def _floats_of(x):
    return tg.tensor(x.numpy().astype(np.float32))


# name -> a float-valued function of one tensor (2-D, at least 2 x 2)
FLOAT_VALUED = {
    "norm": lambda x: x.norm(),
    "norm p=1": lambda x: x.norm(1),
    "norm p=inf": lambda x: x.norm(math.inf, dim=1),
    "norm p=3": lambda x: x.norm(3, dim=0),
    "tg.norm": lambda x: tg.norm(x),
    "logsumexp": lambda x: x.logsumexp(1),
    "tg.logsumexp all": lambda x: tg.logsumexp(x, (0, 1)),
    "pdist": lambda x: F.pdist(x),
    "pairwise_distance": lambda x: F.pairwise_distance(x, x.flip(0)),
    "cosine_similarity": lambda x: F.cosine_similarity(x, x.flip(0)),
    "normalize": lambda x: F.normalize(x),
    "trapezoid": lambda x: tg.trapezoid(x),
    "trapezoid of int points": lambda x: tg.trapezoid(x, x[0]),
    "cumulative_trapezoid": lambda x: tg.cumulative_trapezoid(x, dim=0),
    "logsigmoid": lambda x: F.logsigmoid(x),
    "softmin": lambda x: F.softmin(x, dim=1),
    "log_softmax": lambda x: x.log_softmax(1),
    "mean": lambda x: x.mean(0),
    "var": lambda x: x.var(1),
    "lp_pool1d": lambda x: F.lp_pool1d(x.reshape(1, *x.shape), 2, 2),
    "lp_pool2d": lambda x: F.lp_pool2d(x.reshape(1, 1, *x.shape), 2, 2),
    "lp_pool3d": lambda x: F.lp_pool3d(x.reshape(1, 1, 1, *x.shape), 3, (1, 2, 2)),
    "local_response_norm": lambda x: F.local_response_norm(x.reshape(1, *x.shape), 2),
}


def _assert_as_on_floats(function, x):
    got, expected = function(x), function(_floats_of(x))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(FLOAT_VALUED))
@pytest.mark.parametrize("dtype", SMALL_INTS + [np.bool_])
def test_float_valued_functions_of_small_ints_wrap_nothing(name, dtype):
    """Values chosen so that every sum, difference and square overflows the small dtype."""
    values = {np.int8: [[100, 100, -100], [100, -100, 50], [3, 4, 5]],
              np.int16: [[30000, 30000, -30000], [200, -200, 5], [3, 4, 5]],
              np.uint8: [[200, 100, 250], [3, 4, 5], [255, 1, 0]],
              np.bool_: [[True, True, False], [False, True, True], [True, False, False]]}
    x = tg.tensor(np.array(values[dtype], dtype))
    if dtype is np.bool_ and "trapezoid" in name:   # PyTorch refuses bool samples
        with pytest.raises(TypeError, match="trapezoid: bool samples are not supported"):
            FLOAT_VALUED[name](x)
        return
    _assert_as_on_floats(FLOAT_VALUED[name], x)


@pytest.mark.parametrize("dtype", SMALL_INTS + [np.bool_])
def test_renorm_of_small_ints_and_bool_is_refused_as_pytorch(dtype):
    with pytest.raises(TypeError, match="renorm: input must be a float tensor"):
        tg.tensor(np.ones((2, 2), dtype)).renorm(2, 0, 1.0)


@SETTINGS
@given(st.sampled_from(sorted(FLOAT_VALUED)), st.sampled_from(SMALL_INTS),
       st.tuples(st.integers(2, 4), st.integers(2, 4)), st.data())
def test_fuzz_float_valued_functions_of_small_ints(name, dtype, shape, data):
    values = data.draw(hnp.arrays(dtype, shape))
    _assert_as_on_floats(FLOAT_VALUED[name], tg.tensor(values))


LOSSES = {
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    "multilabel_soft_margin_loss": F.multilabel_soft_margin_loss,
    "sigmoid_focal_loss": F.sigmoid_focal_loss,
    "mse_loss": F.mse_loss,
    "l1_loss": F.l1_loss,
    "smooth_l1_loss": F.smooth_l1_loss,
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("dtype", SMALL_INTS)
def test_losses_of_small_int_logits_are_those_of_the_floats(name, dtype):
    logits = np.array([[100, 100, 5], [100, 0, 50], [3, 4, 5]], dtype)
    target = tg.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    got = LOSSES[name](tg.tensor(logits), target)
    expected = LOSSES[name](_floats_of(tg.tensor(logits)), target)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-5)


@pytest.mark.parametrize("dtype", SMALL_INTS + [np.bool_])
def test_binary_cross_entropy_of_small_int_probabilities(dtype):
    probabilities = np.array([[1, 0], [0, 1]], dtype)
    target = tg.tensor([[1.0, 0.0], [1.0, 1.0]])
    got = F.binary_cross_entropy(tg.tensor(probabilities), target)
    assert got.dtype == np.float32
    assert got.item() == pytest.approx(100 / 4)  # one certain mistake: log clamped at -100


def test_a_uint8_index_is_refused_not_read_as_positions(device):
    """PyTorch reads a uint8 index tensor as a (deprecated) mask; NumPy as positions. The
    same code would pick other rows here than there, so it is an error naming the fix."""
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    for index in (tg.tensor([1, 0], dtype=tg.uint8, device=device), np.array([1, 0], np.uint8)):
        with pytest.raises(IndexError, match=r"uint8 is refused.*\.bool\(\) or \.long\(\)"):
            x[index]
        with pytest.raises(IndexError, match="uint8 is refused"):
            x[index] = 0.0
    mask, rows = tg.tensor([True, False], device=device), tg.tensor([1, 0], device=device)
    assert x[mask].tolist() == [[1.0, 2.0]] and x[rows].tolist() == [[3.0, 4.0], [1.0, 2.0]]
    assert x[tg.tensor([1, 0], dtype=tg.int8, device=device)].tolist() == [[3.0, 4.0],
                                                                          [1.0, 2.0]]


def test_bool_to_a_bool_power_is_refused_as_pytorch(device):
    """NumPy's bool ** bool is int8, a dtype PyTorch never gives it: PyTorch refuses it."""
    flags = tg.tensor([True, False], device=device)
    for power in (lambda: flags ** flags, lambda: flags ** True, lambda: tg.pow(flags, flags)):
        with pytest.raises(RuntimeError, match="bool \\*\\* bool is not implemented"):
            power()
    assert (flags ** 2).tolist() == [1, 0] and (flags ** 2).dtype == np.int64


def test_clamp_of_a_bool_tensor_raises_as_pytorch():
    """PyTorch has no clamp for bool ("clamp_scalar_cpu" not implemented for 'Bool');
    NumPy's clip would make it int64."""
    flags = tg.tensor([True, False])
    for call in (lambda: flags.clamp(0, 1), lambda: tg.clamp(flags, min=0),
                 lambda: flags.clip(max=1)):
        with pytest.raises(RuntimeError, match="bool"):
            call()


def test_and_or_invert_are_the_bitwise_functions(device):
    """``&``, ``|`` and ``~`` are ``bitwise_and``, ``bitwise_or`` and ``bitwise_not``:
    bool and integer tensors promote as ``+`` does; a float tensor is refused."""
    a = tg.tensor([True, False, True], device=device)
    b = tg.tensor([True, True, False], device=device)
    np.testing.assert_array_equal((a & b).numpy(), [True, False, False])
    np.testing.assert_array_equal((a | b).numpy(), [True, True, True])
    np.testing.assert_array_equal((~a).numpy(), [False, True, False])
    small = tg.tensor([3, 5], dtype=tg.int8, device=device)
    both = small & tg.tensor([6, 4], dtype=tg.int64, device=device)
    assert both.dtype == tg.int64 and both.numpy().tolist() == [2, 4]
    assert (small | 8).dtype == tg.int8 and (~small).numpy().tolist() == [-4, -6]
    for call in (lambda: tg.ones(3, device=device) & a, lambda: ~tg.ones(2, device=device)):
        with pytest.raises(TypeError, match="only bool and integer"):
            call()
