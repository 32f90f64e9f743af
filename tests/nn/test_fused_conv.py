"""The fused ops of nn/fused_conv.py (Conv2d, MaxPool2d, AvgPool2d) against their compositions.

Each fused op must give its composition's values, first gradients (plain and recorded
backward) and second derivatives, for drawn options (stride, padding, dilation, groups,
ceil mode), on 'cpu' and 'strict'. The max pooling's oracle is the composition it
replaced: im2col with −inf padding, then ``max`` over the window axis (ties share the
gradient equally), followed by col2im in its backward.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt.nn import functional_conv as fc
from tinygrad_opt.nn import fused_conv

EXAMPLES = 25


def leaf(array, device):
    return tg.tensor(array, dtype="float64", device=device, requires_grad=True)


def max_pool2d_composed(x, kernel_size, stride, padding, dilation, ceil_mode):
    """max_pool2d as it was composed before the fused op: im2col, then max over the window."""
    ready, options = fc._pool_input(x, kernel_size, stride, padding, dilation, ceil_mode,
                                    -math.inf, "max_pool2d")
    cols, OH, OW = fc._im2col(ready, *options, "max_pool2d", pad_value=-math.inf)
    (kh, kw) = options[0]
    N, C = x.shape[:2]
    return cols.reshape(N, C, kh * kw, OH * OW).max(dim=2).reshape(N, C, OH, OW)


def legal_padding(padding, kernel):
    """PyTorch's rule for poolings: padding at most half the kernel (else none)."""
    return (0, 0) if any(p > k // 2 for p, k in zip(padding, kernel)) else padding


def assert_same(ours, theirs):
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def assert_same_gradients(fused, oracle, inputs, rng, device):
    """The same first gradients, plain and recorded, as the oracle's."""
    weights = tg.tensor(rng.standard_normal(fused.shape), dtype="float64", device=device)
    for create_graph in (False, True):
        theirs = tg.grad((oracle * weights).sum(), inputs, retain_graph=True,
                         create_graph=create_graph)
        ours = tg.grad((fused * weights).sum(), inputs, retain_graph=True,
                       create_graph=create_graph)
        for mine, expected in zip(ours, theirs):
            assert mine.requires_grad == expected.requires_grad  # a graph where it has one
            assert_same(mine, expected)


conv_cases = st.fixed_dictionaries({
    "batch": st.integers(1, 3), "groups": st.sampled_from([1, 2]),
    "in_per_group": st.integers(1, 2), "out_per_group": st.integers(1, 2),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "padding": st.tuples(st.integers(0, 2), st.integers(0, 2)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "size": st.tuples(st.integers(5, 7), st.integers(5, 7)), "bias": st.booleans(),
    "seed": st.integers(0, 2**16)})


@settings(max_examples=EXAMPLES, deadline=None)
@given(case=conv_cases)
def test_conv2d_matches_its_composition(case):
    for device in ("cpu", "strict"):
        rng = np.random.default_rng(case["seed"])
        G = case["groups"]
        C, O = G * case["in_per_group"], G * case["out_per_group"]
        x = leaf(rng.standard_normal((case["batch"], C) + case["size"]), device)
        w = leaf(rng.standard_normal((O, C // G) + case["kernel"]), device)
        b = leaf(rng.standard_normal(O), device) if case["bias"] else None
        options = dict(stride=case["stride"], padding=case["padding"],
                       dilation=case["dilation"], groups=G)
        fused = F.conv2d(x, w, b, **options)
        assert type(fused.grad_fn.inputs[0].grad_fn) is fused_conv.Conv2d  # (then a reshape)
        oracle = fc.conv2d_composed(x, w, b, case["stride"], case["padding"],
                                    case["dilation"], G)
        assert_same(fused, oracle)
        inputs = [x, w] + ([b] if b is not None else [])
        assert_same_gradients(fused, oracle, inputs, rng, device)


@pytest.mark.parametrize("groups, bias", [(1, True), (2, False)])
def test_conv2d_gradcheck_and_second_derivatives(device, rng, groups, bias):
    x = leaf(rng.standard_normal((2, 2, 5, 4)), device)
    w = leaf(rng.standard_normal((2, 2 // groups, 3, 2)), device)
    inputs = (x, w, leaf(rng.standard_normal(2), device)) if bias else (x, w)

    def conv(*args):
        return F.conv2d(*args, stride=(2, 1), padding=1, dilation=(1, 2), groups=groups)
    assert tg.gradcheck(conv, inputs)
    assert tg.gradgradcheck(conv, inputs)


def test_conv2d_of_mixed_or_integer_dtypes_runs_the_composition(rng):
    x = tg.tensor(rng.standard_normal((1, 1, 4, 4)), dtype="float32")
    w = tg.tensor(rng.standard_normal((2, 1, 3, 3)), dtype="float64", requires_grad=True)
    out = F.conv2d(x, w)
    assert out.dtype == np.float64  # promotion, as before the fused op
    np.testing.assert_allclose(out.numpy(), fc.conv2d_composed(x, w, None, 1, 0, 1, 1).numpy())
    ints = F.conv2d(tg.arange(16).reshape(1, 1, 4, 4), tg.ones(1, 1, 2, 2, dtype="int64"))
    assert ints.dtype == np.int64 and ints.numpy()[0, 0, 0, 0] == 0 + 1 + 4 + 5


def test_conv2d_raises_after_an_in_place_write_to_its_input_or_weight(rng):
    for which in (0, 1):
        x = tg.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
        w = tg.tensor(rng.standard_normal((1, 1, 3, 3)), requires_grad=True)
        a, b = x * 1, w * 1
        y = F.conv2d(a, b).sum()
        with tg.no_grad():
            (a, b)[which].add_(1)
        with pytest.raises(RuntimeError, match="in-place operation: an input of Conv2d"):
            y.backward()


pool_cases = st.fixed_dictionaries({
    "batch": st.integers(1, 2), "channels": st.integers(1, 2),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "padding": st.tuples(st.integers(0, 1), st.integers(0, 1)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "ceil_mode": st.booleans(), "size": st.tuples(st.integers(5, 7), st.integers(5, 7)),
    "ties": st.booleans(), "seed": st.integers(0, 2**16)})


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(case=pool_cases)
def test_max_pool2d_matches_its_composition(case):
    kernel, padding = case["kernel"], legal_padding(case["padding"], case["kernel"])
    for device in ("cpu", "strict"):
        rng = np.random.default_rng(case["seed"])
        shape = (case["batch"], case["channels"]) + case["size"]
        # ties: a few distinct values (ReLU-like zeros), so windows share their maximum
        values = (rng.integers(0, 3, shape) if case["ties"] else rng.standard_normal(shape))
        x = leaf(values, device)
        options = (kernel, case["stride"], padding, case["dilation"], case["ceil_mode"])
        fused = F.max_pool2d(x, *options)
        assert type(fused.grad_fn) is fused_conv.MaxPool2d
        oracle = max_pool2d_composed(x, *options)
        assert_same(fused, oracle)
        assert_same_gradients(fused, oracle, [x], rng, device)


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", [
    (2, 2, 0, 1, False), (3, 2, 1, 1, True), ((2, 3), 1, (1, 0), (2, 1), False)])
def test_max_pool2d_gradcheck_and_second_derivatives(device, rng, kernel, stride, padding,
                                                     dilation, ceil_mode):
    x = leaf(rng.permutation(2 * 5 * 6).reshape(2, 1, 5, 6) / 7.0, device)  # no ties

    def pool(x):
        return F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
    assert tg.gradcheck(pool, (x,))
    assert tg.gradgradcheck(pool, (x,))


@pytest.mark.parametrize("upstream", [math.inf, -math.inf, math.nan])
def test_max_pool2d_masked_taps_get_exactly_zero_from_inf_or_nan(device, upstream):
    x = leaf(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), device)
    (grad,) = tg.grad(F.max_pool2d(x, 2), [x], grad_outputs=[
        tg.full((1, 1, 1, 1), upstream, dtype="float64", device=device)])
    got = grad.numpy()[0, 0]
    assert (got[0] == 0).all() and got[1, 0] == 0
    np.testing.assert_equal(got[1, 1], upstream)


def test_max_pool2d_of_a_nan_window_warns_nothing_and_gives_the_gradient_to_its_nan():
    # PyTorch's kernel picks the (last) NaN of the window, and its backward sends dL/dy there
    x = tg.tensor(np.array([[[[np.nan, 1.0], [2.0, 3.0]]]]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.max_pool2d(x, 2)
        y.sum().backward()
    assert np.isnan(y.numpy()).all()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_max_pool2d_overlapping_windows_add_their_shares(rng):
    # stride 1 < kernel 2: the centre pixel is the maximum of all four windows
    x = tg.tensor(np.array([[[[0.0, 0, 0], [0, 5, 0], [0, 0, 0]]]]), requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    expected = np.zeros((3, 3))
    expected[1, 1] = 4.0
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_max_pool2d_ties_share_equally():
    x = tg.tensor(np.array([[[[1.0, 1.0], [0.0, 1.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).backward(tg.tensor([[[[3.0]]]], dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1.0, 1.0], [0.0, 1.0]])


def test_max_pool2d_raises_after_an_in_place_write_to_its_input(rng):
    x = tg.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    a = x * 1
    y = F.max_pool2d(a, 2).sum()
    with tg.no_grad():
        a.mul_(2)
    with pytest.raises(RuntimeError, match="in-place operation: an input of MaxPool2d"):
        y.backward()


def test_max_pool2d_of_integers_pools_in_their_dtype():
    x = tg.tensor(np.array([[[[1, -5], [7, 2]]]], dtype=np.int64))
    y = F.max_pool2d(x, 2, padding=1, stride=1)  # the padding never wins
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.numpy()[0, 0], [[1, 1, -5], [7, 7, 2], [7, 7, 2]])


def avg_pool2d_composed(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    """avg_pool2d as it was composed before the fused op: im2col, the window sums, the divisor."""
    ready, options = fc._pool_input(x, kernel_size, stride, padding, 1, ceil_mode, 0.0,
                                    "avg_pool2d")
    cols, OH, OW = fc._im2col(ready, *options, "avg_pool2d")
    (kh, kw) = options[0]
    N, C = x.shape[:2]
    sums = cols.reshape(N, C, kh * kw, OH * OW).sum(dim=2)
    divisor = divisor_override
    if divisor is None:
        divisor = fc._window_sizes(x, ready, options, count_include_pad, "avg_pool2d")
    return (sums / divisor).reshape(N, C, OH, OW)


avg_cases = st.fixed_dictionaries({
    "batch": st.integers(1, 2), "channels": st.integers(1, 2),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "padding": st.tuples(st.integers(0, 1), st.integers(0, 1)),
    "ceil_mode": st.booleans(), "count_include_pad": st.booleans(),
    "divisor_override": st.one_of(st.none(), st.integers(1, 5)),
    "size": st.tuples(st.integers(3, 7), st.integers(3, 7)), "seed": st.integers(0, 2**16)})


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(case=avg_cases)
def test_avg_pool2d_matches_its_composition(case):
    kernel, padding = case["kernel"], legal_padding(case["padding"], case["kernel"])
    for device in ("cpu", "strict"):
        rng = np.random.default_rng(case["seed"])
        x = leaf(rng.standard_normal((case["batch"], case["channels"]) + case["size"]), device)
        options = (kernel, case["stride"], padding, case["ceil_mode"],
                   case["count_include_pad"], case["divisor_override"])
        fused = F.avg_pool2d(x, *options)
        assert type(fused.grad_fn) is fused_conv.AvgPool2d
        oracle = avg_pool2d_composed(x, *options)
        assert_same(fused, oracle)  # the same additions (NumPy may order a 9-term sum otherwise)
        assert_same_gradients(fused, oracle, [x], rng, device)


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, count_include_pad", [
    (2, 2, 0, False, True), (3, 2, 1, True, False), ((2, 3), 1, (1, 0), False, True)])
def test_avg_pool2d_gradcheck_and_second_derivatives(device, rng, kernel, stride, padding,
                                                     ceil_mode, count_include_pad):
    x = leaf(rng.standard_normal((2, 1, 5, 6)), device)

    def pool(x):
        return F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad)
    assert tg.gradcheck(pool, (x,))
    assert tg.gradgradcheck(pool, (x,))


def test_avg_pool2d_counts_only_the_input_without_count_include_pad():
    x = tg.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    y = F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
    np.testing.assert_array_equal(y.numpy()[0, 0], np.ones((3, 3)))  # 1/1, 2/2, 4/4: all 1
    y.sum().backward()
    # each input pixel lies in 4 of the 3x3 windows, holding 1, 2, 2 and 4 real pixels
    np.testing.assert_allclose(x.grad.numpy()[0, 0], np.full((2, 2), 1 + 0.5 + 0.5 + 0.25))


def test_avg_pool2d_of_integers_runs_the_composition_and_truncates_as_pytorch():
    # PyTorch's CPU kernel takes int64 and divides in integer arithmetic (toward zero)
    x = tg.tensor(np.arange(16, dtype=np.int64).reshape(1, 1, 4, 4))
    y = F.avg_pool2d(x, 2)
    assert y.dtype == np.int64 and type(y.grad_fn) is not fused_conv.AvgPool2d
    np.testing.assert_array_equal(y.numpy()[0, 0], [[2, 4], [10, 12]])
