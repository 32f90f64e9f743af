"""More of PyTorch's nn surface: adaptive max pooling (1-D, 3-D) with indices, 3-D fractional
max pooling, ``F.conv_tbc``, ``nn.CrossMapLRN2d`` and the deprecated ``nn.init`` names.

References are NumPy loops written here: the max and first argmax of every adaptive bin
(PyTorch's floor/ceil bins), PyTorch's fractional interval rule window by window, the
explicit double sum of conv_tbc, and a line-by-line transcription of PyTorch's running-sum
forward of CrossMapLRN2d. Gradients by float64 gradcheck on the cpu and strict devices.
"""

import itertools
import math

import numpy as np
import pytest
from fuzzing import examples, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def t(array, device, grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=grad)


def bins(size, out):
    """PyTorch's adaptive bins: [floor(i·size/out), ceil((i+1)·size/out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_max_reference(x, out_sizes):
    """Loops over every bin: the maximum and the flat index of its first maximum."""
    N, C, *sizes = x.shape
    y = np.zeros((N, C, *out_sizes))
    where = np.zeros((N, C, *out_sizes), dtype=np.int64)
    strides = [math.prod(sizes[d + 1:]) for d in range(len(sizes))]
    cells = itertools.product(*[list(enumerate(bins(s, o))) for s, o in zip(sizes, out_sizes)])
    for n, c, cell in itertools.product(range(N), range(C), list(cells)):
        best, best_index = -np.inf, None
        for position in itertools.product(*[range(a, b) for _, (a, b) in cell]):
            if x[(n, c) + position] > best:                    # strict: the first maximum wins
                best = x[(n, c) + position]
                best_index = sum(p * s for p, s in zip(position, strides))
        out_index = (n, c) + tuple(i for i, _ in cell)
        y[out_index], where[out_index] = best, best_index
    return y, where


# ---------------------------------------------------------- adaptive max pooling with indices

@pytest.mark.parametrize("L, OL", [(7, 3), (6, 3), (5, 5), (4, 1), (3, 5)])
def test_adaptive_max_pool1d_indices_match_the_bin_loop(device, rng, L, OL):
    x = rng.normal(size=(2, 3, L))
    y, indices = F.adaptive_max_pool1d(t(x, device), OL, return_indices=True)
    expected, where = adaptive_max_reference(x, (OL,))
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), where)
    assert indices.dtype == np.int64 and indices.shape == (2, 3, OL)
    values, same = F.adaptive_max_pool1d_with_indices(t(x[0], device), OL)   # unbatched
    np.testing.assert_array_equal(values.numpy(), expected[0])
    np.testing.assert_array_equal(same.numpy(), where[0])


def test_adaptive_max_pool1d_ties_pick_the_first_and_get_the_whole_gradient(device):
    x = np.array([[[1.0, 3.0, 3.0, 0.0, 2.0, 2.0]]])            # bins of 2: ties in two of 3
    xt = t(x, device, grad=True)
    y, indices = F.adaptive_max_pool1d(xt, 2, return_indices=True)   # bins [0, 3), [3, 6)
    np.testing.assert_array_equal(indices.numpy(), [[[1, 4]]])
    y.sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), [[[0, 1, 0, 0, 1, 0]]])


def test_adaptive_max_pool1d_gradient_module_and_unpool(device, rng):
    x = rng.normal(size=(2, 2, 6))
    assert tg.gradcheck(lambda a: F.adaptive_max_pool1d(a, 4, return_indices=True)[0],
                        [t(x, device, True)])
    module = nn.AdaptiveMaxPool1d(3, return_indices=True)
    assert repr(module) == "AdaptiveMaxPool1d(output_size=3)"
    y, indices = module(t(x, device))
    expected, where = adaptive_max_reference(x, (3,))
    np.testing.assert_array_equal(indices.numpy(), where)
    back = F.max_unpool1d(y, indices, 2).numpy()                # bins of 2 = kernel 2
    unpooled = np.zeros_like(x)
    for n, c, i in itertools.product(range(2), range(2), range(3)):
        unpooled[n, c, where[n, c, i]] = expected[n, c, i]
    np.testing.assert_array_equal(back, unpooled)
    assert isinstance(nn.AdaptiveMaxPool1d(3)(t(x, device)), tg.Tensor)   # values only


@pytest.mark.parametrize("shape, out", [((2, 2, 5, 4, 3), (2, 3, 2)),
                                        ((1, 3, 4, 4, 4), (2, 2, 2)),
                                        ((1, 1, 3, 5, 2), (3, None, 1))])
def test_adaptive_max_pool3d_indices_match_the_bin_loop(device, rng, shape, out):
    x = rng.normal(size=shape)
    y, indices = F.adaptive_max_pool3d(t(x, device), out, return_indices=True)
    sizes = tuple(s if o is None else o for s, o in zip(shape[2:], out))
    expected, where = adaptive_max_reference(x, sizes)
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), where)
    assert indices.dtype == np.int64
    values, same = F.adaptive_max_pool3d_with_indices(t(x[0], device), out)   # unbatched
    np.testing.assert_array_equal(values.numpy(), expected[0])
    np.testing.assert_array_equal(same.numpy(), where[0])


def test_adaptive_max_pool3d_gradient_module_and_unpool(device, rng):
    x = rng.normal(size=(1, 2, 4, 4, 2))
    assert tg.gradcheck(lambda a: F.adaptive_max_pool3d(a, (3, 2, 1), return_indices=True)[0],
                        [t(x, device, True)])
    xt = t(x, device, grad=True)
    y, indices = nn.AdaptiveMaxPool3d(2, return_indices=True)(xt)
    weights = rng.normal(size=y.shape)
    (y * t(weights, device)).sum().backward()
    expected = np.zeros((1, 2, 32))
    for c in range(2):
        np.add.at(expected[0, c], indices.numpy()[0, c].ravel(), weights[0, c].ravel())
    np.testing.assert_allclose(xt.grad.numpy(), expected.reshape(x.shape))
    back = F.max_unpool3d(y, indices, (2, 2, 1)).numpy().reshape(1, 2, 32)
    kept = np.take_along_axis(back, indices.numpy().reshape(1, 2, -1), 2)
    np.testing.assert_array_equal(kept, y.numpy().reshape(1, 2, -1))
    assert np.count_nonzero(back) == y.numpy().size             # zeros everywhere else


@fuzz_settings(examples("SURFACE_MORE_FUZZ_EXAMPLES", 10))
@given(sizes=st.lists(st.integers(1, 5), min_size=3, max_size=3),
       outs=st.lists(st.integers(1, 4), min_size=3, max_size=3),
       seed=st.integers(0, 2 ** 16))
def test_adaptive_max_pool3d_indices_fuzz(sizes, outs, seed):
    x = np.random.default_rng(seed).integers(-3, 3, size=(2, 1, *sizes)).astype(float)  # ties
    y, indices = F.adaptive_max_pool3d(t(x, "strict"), tuple(outs), return_indices=True)
    expected, where = adaptive_max_reference(x, tuple(outs))
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), where)


def test_adaptive_max_pool_indices_errors(device):
    with pytest.raises(ValueError, match="adaptive_max_pool1d: expected a 3-D or 2-D"):
        F.adaptive_max_pool1d(tg.zeros((1, 2, 3, 4), device=device), 2, return_indices=True)
    with pytest.raises(ValueError, match="adaptive_max_pool3d: expected a 5-D or 4-D"):
        F.adaptive_max_pool3d(tg.zeros((2, 3, 4), device=device), 2, return_indices=True)
    with pytest.raises(ValueError, match="output_size must be a positive int or 3"):
        F.adaptive_max_pool3d(tg.zeros((1, 2, 3, 4), device=device), (2, 2),
                              return_indices=True)


# ----------------------------------------------------------------- 3-D fractional max pooling

def fractional_starts(u, size, out, kernel, real=float):
    """PyTorch's generate_intervals for one dim of one plane, in the arithmetic type ``real``:
    start_i = int((i + u)·α) − int(u·α), α = (size − k)/(out − 1); the last is size − k."""
    starts = []
    if out > 1:
        alpha = real(size - kernel) / real(out - 1)
        for i in range(out - 1):
            starts.append(int((real(i) + u) * alpha) - int(u * alpha))
    starts.append(size - kernel)
    return starts


def fractional3d_reference(x, kernel, out, samples, real=float):
    """Window loops with samples (u_d, u_h, u_w): the first strict maximum of each window
    and its flat index d·H·W + h·W + w."""
    N, C, D, H, W = x.shape
    y = np.zeros((N, C, *out))
    where = np.zeros((N, C, *out), dtype=np.int64)
    for n, c in itertools.product(range(N), range(C)):
        starts = [fractional_starts(samples[n, c, d], (D, H, W)[d], out[d], kernel[d], real)
                  for d in range(3)]
        for i, j, m in itertools.product(*map(range, out)):
            best, best_index = -np.inf, None
            for a, b, e in itertools.product(*map(range, kernel)):
                d, h, w = starts[0][i] + a, starts[1][j] + b, starts[2][m] + e
                if x[n, c, d, h, w] > best:
                    best, best_index = x[n, c, d, h, w], (d * H + h) * W + w
            y[n, c, i, j, m], where[n, c, i, j, m] = best, best_index
    return y, where


@pytest.mark.parametrize("shape, kernel, out", [((2, 2, 7, 6, 5), (2, 2, 2), (4, 3, 2)),
                                                 ((1, 3, 5, 8, 6), (2, 3, 1), (3, 4, 5)),
                                                 ((1, 1, 4, 5, 6), (3, 1, 2), (1, 4, 3))])
def test_fractional_max_pool3d_matches_the_interval_loop(device, rng, shape, kernel, out):
    x = rng.normal(size=shape)
    samples = rng.uniform(size=shape[:2] + (3,))
    y, indices = F.fractional_max_pool3d(t(x, device), kernel, output_size=out,
                                         return_indices=True,
                                         _random_samples=t(samples, device))
    expected, where = fractional3d_reference(x, kernel, out, samples)
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), where)
    assert indices.dtype == np.int64


def test_fractional_max_pool3d_float32_runs_the_intervals_in_float32(device, rng):
    x = rng.normal(size=(1, 2, 9, 11, 13))
    samples = rng.uniform(size=(1, 2, 3)).astype(np.float32)
    y, indices = F.fractional_max_pool3d(t(x, device, dtype=tg.float32), 2,
                                         output_size=(5, 4, 6), return_indices=True,
                                         _random_samples=t(samples, device, dtype=tg.float32))
    expected, where = fractional3d_reference(x.astype(np.float32), (2, 2, 2), (5, 4, 6),
                                             samples, real=np.float32)
    np.testing.assert_array_equal(indices.numpy(), where)
    np.testing.assert_array_equal(y.numpy(), expected.astype(np.float32))


def test_fractional_max_pool3d_gradient_goes_to_each_window_maximum(device, rng):
    x = rng.normal(size=(2, 1, 5, 4, 6))
    samples = rng.uniform(size=(2, 1, 3))
    xt = t(x, device, grad=True)
    y, indices = F.fractional_max_pool3d(xt, 2, output_size=(3, 2, 4), return_indices=True,
                                         _random_samples=t(samples, device))
    weights = rng.normal(size=y.shape)
    (y * t(weights, device)).sum().backward()
    expected = np.zeros((2, 1, 120))
    for n in range(2):
        np.add.at(expected[n, 0], indices.numpy()[n, 0].ravel(), weights[n, 0].ravel())
    np.testing.assert_allclose(xt.grad.numpy(), expected.reshape(x.shape))
    assert tg.gradcheck(lambda a: F.fractional_max_pool3d(
        a, 2, output_size=(3, 2, 4), _random_samples=t(samples, device)), [t(x, device, True)])


def test_fractional_max_pool3d_output_ratio_unbatched_and_seeded_draws(device, rng):
    x = rng.normal(size=(2, 10, 9, 7))                          # unbatched (C, D, H, W)
    tg.manual_seed(3)
    y = F.fractional_max_pool3d(t(x, device), 2, output_ratio=0.5)
    assert y.shape == (2, 5, 4, 3)                              # ⌊(10, 9, 7)·0.5⌋
    tg.manual_seed(3)
    again = F.fractional_max_pool3d(t(x, device), 2, output_ratio=(0.5, 0.5, 0.5))
    np.testing.assert_array_equal(again.numpy(), y.numpy())
    samples = rng.uniform(size=(1, 2, 3))
    values, indices = F.fractional_max_pool3d_with_indices(
        t(x, device), (2, 3, 2), (4, 3, 3), _random_samples=t(samples, device))
    expected, where = fractional3d_reference(x[None], (2, 3, 2), (4, 3, 3), samples)
    np.testing.assert_array_equal(values.numpy(), expected[0])
    np.testing.assert_array_equal(indices.numpy(), where[0])


def test_fractional_max_pool3d_module_and_unpool_round_trip(device, rng):
    x = rng.normal(size=(1, 2, 6, 6, 6))
    samples = t(rng.uniform(size=(1, 2, 3)), device)
    pool = nn.FractionalMaxPool3d(2, output_size=3, return_indices=True,
                                  _random_samples=samples)
    assert "_random_samples" in dict(pool.named_buffers())
    assert repr(pool) == "FractionalMaxPool3d(kernel_size=(2, 2, 2), output_size=(3, 3, 3))"
    y, indices = pool(t(x, device))
    expected, where = fractional3d_reference(x, (2, 2, 2), (3, 3, 3), samples.numpy())
    np.testing.assert_array_equal(y.numpy(), expected)
    back = F.max_unpool3d(y, indices, 2, output_size=(6, 6, 6)).numpy().reshape(1, 2, 216)
    kept = np.take_along_axis(back, where.reshape(1, 2, -1), 2)
    np.testing.assert_array_equal(kept, expected.reshape(1, 2, -1))
    ratio = nn.FractionalMaxPool3d((2, 1, 2), output_ratio=0.5)
    assert repr(ratio) == ("FractionalMaxPool3d(kernel_size=(2, 1, 2), "
                           "output_ratio=(0.5, 0.5, 0.5))")
    assert ratio(t(x, device)).shape == (1, 2, 3, 3, 3)


def test_fractional_max_pool3d_errors(device):
    x = tg.zeros((1, 1, 6, 6, 6), device=device)
    with pytest.raises(ValueError, match="fractional_max_pool3d requires specifying either"):
        F.fractional_max_pool3d(x, 2)
    # PyTorch's 3-D check is strict: out + k − 1 < size (5 + 2 − 1 = 6 is refused).
    with pytest.raises(ValueError, match="pool time 2 too large relative to input time 6"):
        F.fractional_max_pool3d(x, 2, output_size=(5, 2, 2))
    with pytest.raises(ValueError, match="pool width 3 too large relative to input width 6"):
        F.fractional_max_pool3d(x, 3, output_size=(2, 2, 4))
    with pytest.raises(ValueError, match=r"_random_samples must have shape \(1, 1, 3\)"):
        F.fractional_max_pool3d(x, 2, output_size=3, _random_samples=tg.zeros((1, 1, 2)))
    with pytest.raises(ValueError, match="expected a 5-D or 4-D input"):
        F.fractional_max_pool3d(tg.zeros((6, 6, 6), device=device), 2, output_size=3)
    with pytest.raises(ValueError, match="kernel_size must be greater than 0"):
        F.fractional_max_pool3d(x, (2, 0, 2), output_size=3)
    with pytest.raises(ValueError, match="output_ratio to either be a single number or a"):
        F.fractional_max_pool3d(x, 2, output_ratio=(0.5, 0.5))
    with pytest.raises(ValueError, match="only one of output_size and output_ratio"):
        nn.FractionalMaxPool3d(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 1.0))
    with pytest.raises(ValueError, match="FractionalMaxPool3d requires specifying either"):
        nn.FractionalMaxPool3d(2)
    with pytest.raises(TypeError, match="kernel_size must be an int or a triple"):
        nn.FractionalMaxPool3d((2, 2), output_size=3)


# ------------------------------------------------------------------------------------ conv_tbc

def conv_tbc_reference(x, weight, bias, pad):
    """out[t, b, o] = bias[o] + Σ_k Σ_c x_pad[t + k, b, c] · weight[k, c, o], by loops."""
    T, B, C = x.shape
    K, _, O = weight.shape
    padded = np.zeros((T + 2 * pad, B, C))
    padded[pad:pad + T] = x
    out = np.zeros((T + 2 * pad - K + 1, B, O))
    for step, b, o in itertools.product(range(out.shape[0]), range(B), range(O)):
        total = bias[o]
        for k, c in itertools.product(range(K), range(C)):
            total += padded[step + k, b, c] * weight[k, c, o]
        out[step, b, o] = total
    return out


@pytest.mark.parametrize("T, B, C, K, O, pad", [(5, 2, 3, 3, 4, 0), (4, 1, 2, 2, 3, 1),
                                                (3, 3, 1, 4, 2, 2), (6, 2, 2, 1, 1, 0)])
def test_conv_tbc_is_the_double_sum(device, rng, T, B, C, K, O, pad):
    x, weight, bias = rng.normal(size=(T, B, C)), rng.normal(size=(K, C, O)), rng.normal(size=O)
    y = F.conv_tbc(t(x, device), t(weight, device), t(bias, device), pad)
    assert y.shape == (T + 2 * pad - K + 1, B, O)
    np.testing.assert_allclose(y.numpy(), conv_tbc_reference(x, weight, bias, pad), rtol=1e-12,
                               atol=1e-12)


def test_conv_tbc_gradients(device, rng):
    inputs = [t(rng.normal(size=shape), device, True) for shape in ((4, 2, 3), (3, 3, 2), (2,))]
    assert tg.gradcheck(lambda x, w, b: F.conv_tbc(x, w, b, pad=1), inputs)
    assert tg.gradgradcheck(lambda x, w, b: F.conv_tbc(x, w, b, pad=1), inputs)


def test_conv_tbc_errors(device):
    x, w, b = (tg.zeros(s, device=device) for s in ((4, 2, 3), (2, 3, 5), (5,)))
    with pytest.raises(ValueError, match="conv_tbc: expected a 3-D input"):
        F.conv_tbc(tg.zeros((4, 3), device=device), w, b)
    with pytest.raises(ValueError, match="conv_tbc: expected a 3-D weight"):
        F.conv_tbc(x, tg.zeros((3, 5), device=device), b)
    with pytest.raises(ValueError, match="conv_tbc: expected a 1-D bias"):
        F.conv_tbc(x, w, tg.zeros((4,), device=device))
    with pytest.raises(ValueError, match="has 3 channels, weight .* expects 2"):
        F.conv_tbc(x, tg.zeros((2, 2, 5), device=device), b)
    with pytest.raises(ValueError, match="pad must be a non-negative int"):
        F.conv_tbc(x, w, b, pad=-1)
    with pytest.raises(ValueError, match="too short for a kernel of width 6"):
        F.conv_tbc(x, tg.zeros((6, 3, 5), device=device), b)


# ------------------------------------------------------------------------------- CrossMapLRN2d

def cross_map_lrn_reference(x, size, alpha, beta, k):
    """PyTorch's forward transcribed statement by statement: a running sum over channels
    that adds the square entering the window and removes the one leaving it."""
    channels = x.shape[1]
    square = x ** 2
    scale = np.zeros_like(x)
    pre_pad = int((size - 1) / 2 + 1)
    for c in range(min(pre_pad, channels)):
        scale[:, 0] += square[:, c]
    for c in range(1, channels):
        scale[:, c] = scale[:, c - 1]
        if c < channels - pre_pad + 1:
            scale[:, c] += square[:, c + pre_pad - 1]
        if c > pre_pad:
            scale[:, c] -= square[:, c - pre_pad]
    scale = scale * (alpha / size) + k
    return scale ** -beta * x


@pytest.mark.parametrize("size, channels", [(5, 8), (3, 4), (4, 7), (1, 3), (2, 5), (7, 3)])
def test_cross_map_lrn2d_matches_pytorchs_running_sum(device, rng, size, channels):
    x = rng.normal(size=(2, channels, 3, 2))
    layer = nn.CrossMapLRN2d(size, alpha=0.5, beta=0.75, k=2.0)
    np.testing.assert_allclose(layer(t(x, device)).numpy(),
                               cross_map_lrn_reference(x, size, 0.5, 0.75, 2.0), rtol=1e-12)


def test_cross_map_lrn2d_defaults_gradient_and_errors(device, rng):
    x = rng.normal(size=(1, 6, 2, 3))
    layer = nn.CrossMapLRN2d(3)
    assert repr(layer) == "CrossMapLRN2d(3, alpha=0.0001, beta=0.75, k=1)"
    np.testing.assert_allclose(layer(t(x, device)).numpy(),
                               cross_map_lrn_reference(x, 3, 1e-4, 0.75, 1), rtol=1e-12)
    strong = nn.CrossMapLRN2d(3, alpha=2.0, beta=0.5, k=1.5)
    assert tg.gradcheck(strong, [t(x, device, True)])
    assert tg.gradgradcheck(strong, [t(x[:, :4, :1], device, True)])
    with pytest.raises(ValueError, match=r"CrossMapLRN2d: expected a 4-D input .*\(3-D\)"):
        layer(tg.zeros((6, 2, 3), device=device))
    with pytest.raises(ValueError, match="CrossMapLRN2d: expected a 4-D input"):
        layer(tg.zeros((1, 6, 2, 3, 1), device=device))


# --------------------------------------------------------------------- deprecated nn.init names

DEPRECATED_INIT = [("uniform", (-0.5, 2.0)), ("normal", (1.0, 3.0)), ("constant", (0.25,)),
                   ("eye", ()), ("xavier_uniform", (1.5,)), ("xavier_normal", (0.5,)),
                   ("kaiming_uniform", ()), ("kaiming_normal", (0.1, "fan_out")),
                   ("orthogonal", (2.0,)), ("sparse", (0.5,))]


@pytest.mark.parametrize("name, args", DEPRECATED_INIT)
def test_deprecated_init_names_warn_and_fill_as_the_underscored_ones(device, name, args):
    tg.manual_seed(7)
    expected = getattr(nn.init, name + "_")(tg.empty((4, 5), device=device), *args).numpy()
    tg.manual_seed(7)
    tensor = tg.empty((4, 5), device=device)
    with pytest.warns(FutureWarning, match=rf"nn\.init\.{name}`? is now deprecated in favor "
                                           rf"of `?nn\.init\.{name}_"):
        returned = getattr(nn.init, name)(tensor, *args)
    assert returned is tensor
    np.testing.assert_array_equal(tensor.numpy(), expected)
    assert getattr(nn.init, name).__name__ == name


def test_deprecated_dirac_warns_and_fills(device):
    weight = tg.empty((4, 2, 3, 3), device=device)
    with pytest.warns(FutureWarning, match="dirac"):
        nn.init.dirac(weight, 2)
    expected = np.zeros((4, 2, 3, 3))
    for group, channel in itertools.product(range(2), range(2)):
        expected[group * 2 + channel, channel, 1, 1] = 1.0         # the centre of each kernel
    np.testing.assert_array_equal(weight.numpy(), expected)
