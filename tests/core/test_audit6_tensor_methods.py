"""Tensor methods PyTorch has: ``cauchy_``, ``resize_`` / ``resize_as_``, ``share_memory_`` /
``is_shared``, ``as_subclass``, ``dim_order`` and ``record_stream``, against PyTorch's
documented behaviour, with NumPy references written here from the documented formulas."""

import math
import multiprocessing
import sys

import numpy as np
import pytest

import tinygrad_opt as tg


def host(t):
    return t.numpy()


def on(device, array):
    return tg.tensor(np.asarray(array), device=device)


# --------------------------------------------------------------------------- cauchy_

def test_cauchy_samples_have_the_median_quartiles_and_cdf_of_the_distribution(device):
    median, sigma, n = 1.5, 2.0, 40000
    x = tg.zeros(n, dtype=tg.float64, device=device)
    version = x._version
    assert x.cauchy_(median, sigma, generator=tg.Generator().manual_seed(3)) is x
    assert x._version > version
    samples = host(x)
    # the quartiles of Cauchy(m, σ) are m ± σ tan(π/4) = m ± σ; sample quantiles' standard
    # errors here are about 0.016 (median) and 0.027 (quartiles): 0.15 is over 5 of them
    q1, q2, q3 = np.quantile(samples, [0.25, 0.5, 0.75])
    np.testing.assert_allclose([q1, q2, q3], [median - sigma, median, median + sigma], atol=0.15)
    points = np.array([-20.0, -3.0, 0.0, 1.5, 2.5, 10.0])
    cdf = 0.5 + np.arctan((points - median) / sigma) / np.pi
    empirical = (samples[:, None] <= points).mean(axis=0)
    np.testing.assert_allclose(empirical, cdf, atol=0.012)


def test_cauchy_a_seeded_generator_repeats_and_dtype_is_kept(device):
    first = host(tg.zeros(7, device=device).cauchy_(generator=tg.Generator().manual_seed(5)))
    again = host(tg.zeros(7, device=device).cauchy_(generator=tg.Generator().manual_seed(5)))
    other = host(tg.zeros(7, device=device).cauchy_(generator=tg.Generator().manual_seed(6)))
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float32 and not np.array_equal(first, other)
    tg.manual_seed(11)
    default = host(tg.zeros(5, dtype=tg.float64, device=device).cauchy_())
    tg.manual_seed(11)
    np.testing.assert_array_equal(default, host(tg.zeros(5, dtype=tg.float64,
                                                           device=device).cauchy_()))
    assert tg.zeros(0, device=device).cauchy_().shape == (0,)


def test_cauchy_refusals_name_the_function(device):
    for sigma in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="cauchy_: expects sigma > 0"):
            tg.zeros(3, device=device).cauchy_(0.0, sigma)
    with pytest.raises(TypeError, match="cauchy_: draws floats"):
        tg.zeros(3, dtype=tg.int64, device=device).cauchy_()
    x = tg.zeros(3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="cauchy_: a leaf"):
        x.cauchy_()
    with tg.no_grad():
        assert np.isfinite(host(x.cauchy_())).all()


# --------------------------------------------------------------------- resize_

def test_resize_same_count_keeps_the_values_in_order_and_shares_memory(device):
    x = on(device, np.arange(6.0).reshape(2, 3))
    pointer, version = x.data_ptr(), x._version
    assert x.resize_(3, 2) is x
    np.testing.assert_array_equal(host(x), np.arange(6.0).reshape(3, 2))
    assert x.data_ptr() == pointer and x._version == version + 1
    x.resize_((6,))                                   # a tuple, as torch.Size
    np.testing.assert_array_equal(host(x), np.arange(6.0))


def test_resize_smaller_keeps_the_leading_elements_larger_adds_zeros(device):
    x = on(device, np.arange(1.0, 7.0).reshape(2, 3))
    np.testing.assert_array_equal(host(x.resize_(2, 2)), [[1.0, 2.0], [3.0, 4.0]])  # the doc
    y = on(device, np.arange(1, 7).reshape(3, 2))
    grown = host(y.resize_(2, 5))
    expected = np.zeros(10, dtype=np.int64)
    expected[:6] = np.arange(1, 7)
    np.testing.assert_array_equal(grown, expected.reshape(2, 5))
    assert grown.dtype == np.int64
    empty = on(device, np.zeros((0, 3)))
    np.testing.assert_array_equal(host(empty.resize_(2, 2)), np.zeros((2, 2)))
    assert on(device, np.arange(3.0)).resize_(0).shape == (0,)


def test_resize_reads_the_storage_c_contiguously_ignoring_strides(device):
    base = np.arange(12.0).reshape(3, 4)
    x = on(device, base).T                            # a view with strides (1, 4)
    with tg.no_grad():
        x.resize_(12)
    np.testing.assert_array_equal(host(x), base.reshape(-1))   # memory order, not x's order
    t = on(device, base)
    view = t[0, :2]                                   # elements 0, 1 of t's storage
    view.resize_(2, 3)                                # the storage goes on past the view
    np.testing.assert_array_equal(host(view), base.reshape(-1)[:6].reshape(2, 3))
    view[1, 2] = -1.0                                 # still t's memory
    assert host(t)[1, 1] == -1.0


def test_resize_to_the_same_shape_changes_nothing_but_the_version(device):
    x = on(device, np.arange(6.0).reshape(2, 3)).T
    strides, version = x.stride(), x._version
    x.resize_(3, 2)
    assert x.stride() == strides == (1, 3) and x._version == version + 1
    np.testing.assert_array_equal(host(x), np.arange(6.0).reshape(2, 3).T)


def test_resize_as_takes_the_other_tensor_s_shape(device):
    x = on(device, np.arange(8.0))
    assert x.resize_as_(tg.zeros(2, 2, device=device)) is x
    np.testing.assert_array_equal(host(x), np.arange(4.0).reshape(2, 2))
    with pytest.raises(TypeError, match="resize_as_: the_template must be a Tensor"):
        x.resize_as_((2, 2))


def test_resize_refuses_what_pytorch_refuses(device):
    x = tg.zeros(2, 3, requires_grad=True, device=device)
    for tensor in (x, x * 2):
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            tensor.resize_(6)
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            tensor.resize_as_(tg.zeros(6))
    with tg.no_grad(), pytest.raises(RuntimeError, match="require grad"):
        x.resize_(3, 2)
    assert x.shape == (2, 3)
    with pytest.raises(ValueError, match=r"resize_: sizes must be non-negative, got \(2, -1\)"):
        tg.zeros(2, device=device).resize_(2, -1)
    with pytest.raises(TypeError, match="resize_: expected ints"):
        tg.zeros(2, device=device).resize_(2.0)


def test_a_tensor_that_saved_for_backward_refuses_after_resize(device):
    w = tg.ones(3, dtype=tg.float64, requires_grad=True, device=device)
    x = on(device, np.arange(3.0))
    loss = (w * x).sum()                              # saves x for w's gradient
    x.resize_(3)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


# --------------------------------------------------------------- share_memory_

def _write_in_child(x):
    x[0] = 42.0


@pytest.mark.skipif(sys.platform != "linux", reason="a forked child shares the mapping")
def test_share_memory_moves_the_values_where_a_forked_process_writes_them():
    values = np.arange(4.0)
    x = tg.tensor(values)
    assert not x.is_shared()
    assert x.share_memory_() is x and x.is_shared()
    np.testing.assert_array_equal(x.numpy(), values)
    assert x[1:].is_shared() and not x.clone().is_shared()
    pointer = x.data_ptr()
    assert x.share_memory_().data_ptr() == pointer            # already shared: nothing to do
    child = multiprocessing.get_context("fork").Process(target=_write_in_child, args=(x,))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    np.testing.assert_array_equal(x.numpy(), [42.0, 1.0, 2.0, 3.0])
    x.resize_(2, 2)                                           # within its memory: allowed
    with pytest.raises(RuntimeError, match="resize_: Trying to resize storage that is not"):
        x.resize_(5)
    empty = tg.zeros(0).share_memory_()
    assert empty.is_shared() and empty.shape == (0,)


def test_share_memory_on_a_gpu_device_is_a_no_op_and_counts_as_shared(device):
    x = on(device, np.arange(3.0))
    if device == "cpu":
        assert not x.is_shared()
        return
    pointer = x.data_ptr()
    assert x.is_shared() and x.share_memory_() is x and x.data_ptr() == pointer


# ----------------------------------------------------------------- as_subclass

class Sub(tg.Tensor):
    def __init__(self, *args, **kwargs):
        raise AssertionError("as_subclass does not call __init__")

    def twice(self):
        return self * 2


def test_as_subclass_shares_memory_and_stays_in_the_graph(device, rng):
    values, weights = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x = tg.tensor(values, requires_grad=True, device=device)
    y = x.as_subclass(Sub)
    assert type(y) is Sub and isinstance(y, tg.Tensor)
    assert y.data_ptr() == x.data_ptr() and y.shape == x.shape and y.dtype == x.dtype
    assert y.requires_grad and not y.is_leaf
    y.retain_grad()
    (y * tg.tensor(weights, device=device)).sum().backward()
    np.testing.assert_allclose(host(x.grad), weights)
    np.testing.assert_allclose(host(y.grad), weights)
    np.testing.assert_allclose(host(y.twice()), 2 * values)


def test_as_subclass_of_a_plain_tensor_mirrors_writes_both_ways(device):
    x = on(device, np.zeros(3))
    y = x.as_subclass(Sub)
    assert not y.requires_grad and y.grad_fn is None
    y[0] = 1.0
    x[2] = 3.0
    np.testing.assert_array_equal(host(x), [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(host(y), [1.0, 0.0, 3.0])
    assert type(x.as_subclass(tg.Tensor)) is tg.Tensor
    for bad in (int, object, "Sub", np.ndarray):
        with pytest.raises(TypeError, match="as_subclass: cls must be a subclass of Tensor"):
            x.as_subclass(bad)


# ------------------------------------------------------------------- dim_order

def test_dim_order_of_pytorch_s_examples(device):
    x = tg.zeros(2, 3, 5, 7, device=device)
    assert x.dim_order() == (0, 1, 2, 3)
    assert x.transpose(1, 2).dim_order() == (0, 2, 1, 3)
    channels_last = tg.zeros(2, 5, 7, 3, device=device).permute(0, 3, 1, 2)   # (2, 3, 5, 7)
    assert channels_last.shape == (2, 3, 5, 7) and channels_last.dim_order() == (0, 2, 3, 1)
    ones = tg.zeros(1, 2, 3, 4, device=device)
    assert ones.dim_order() == (0, 1, 2, 3)
    with pytest.raises(RuntimeError, match="does not have unique dim order"):
        ones.dim_order(ambiguity_check=True)
    with pytest.raises(TypeError, match="dim_order: the ambiguity_check argument must be a bool"):
        ones.dim_order(ambiguity_check="ILLEGAL")
    assert tg.zeros((), device=device).dim_order() == ()
    assert tg.zeros(4, device=device).dim_order(ambiguity_check=True) == (0,)
    assert x.dim_order(ambiguity_check=True) == (0, 1, 2, 3)


def test_dim_order_of_permutations_is_the_dims_by_decreasing_stride(device, rng):
    base = tg.zeros(2, 3, 4, 5, 6, device=device)
    for _ in range(8):
        perm = tuple(int(d) for d in rng.permutation(5))
        y = base.permute(*perm)
        strides = np.array(y.data.strides if device == "cpu" else y.stride())
        expected = tuple(int(d) for d in np.argsort(-strides, kind="stable"))
        assert y.dim_order() == expected == y.dim_order(ambiguity_check=True), perm


def test_dim_order_with_broadcast_and_sliced_dims(device):
    x = tg.zeros(3, 1, device=device).expand(3, 4)       # strides (1, 0)
    assert x.stride() == (1, 0) and x.dim_order() == (0, 1)
    sliced = tg.zeros(4, 6, device=device)[:, ::2]         # strides (6, 2): not contiguous
    assert sliced.dim_order() == (0, 1)
    assert tg.zeros(4, 6, device=device).T[::2].dim_order() == (1, 0)


# --------------------------------------------------------------- record_stream

def test_record_stream_refuses_a_tensor_that_is_not_on_cuda(device):
    message = f"record_stream: only for CUDA tensors.*'{device}'"
    with pytest.raises(NotImplementedError, match=message):
        tg.zeros(3, device=device).record_stream(None)


def test_module_share_memory_shares_every_parameter_and_buffer():
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(3, 2), tg.nn.BatchNorm1d(2))
    before = {name: t.numpy().copy() for name, t in model.state_dict().items()}
    assert model.share_memory() is model
    for name, t in model.state_dict().items():
        assert t.is_shared(), name
        np.testing.assert_array_equal(t.numpy(), before[name])
