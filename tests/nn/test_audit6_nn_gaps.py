"""Small nn gaps, sixth pass: int64 average pooling (PyTorch's CPU kernel: integer sum,
integer division toward zero, int64 out) and the dtypes it refuses, adaptive average
pooling refusing integers, max_unpool's int64 indices, RNN/GRU refusing proj_size,
pack_padded_sequence refusing lengths on a device, and the sparse=True refusals.
References are NumPy loops written here from PyTorch's kernels' formulas."""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn.utils import rnn


def pool_out(size, k, s, p, ceil_mode):
    """PyTorch's pooling_output_shape: the last window must start inside input + left pad."""
    out = (size + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def trunc_div(a, b):
    """C++'s integer ``/``: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ref_int_avg_pool(x, k, s, p, ceil_mode=False, count_include_pad=True, divisor=None):
    """cpu_avg_pool (AvgPoolKernel.cpp) for an int64 x (N, C, *spatial), per output position:
    pool_size counts the window inside the padded input, the sum only the input."""
    spatial = x.shape[2:]
    outs = [pool_out(n, kk, ss, pp, ceil_mode) for n, kk, ss, pp in zip(spatial, k, s, p)]
    y = np.zeros(x.shape[:2] + tuple(outs), dtype=np.int64)
    for o in itertools.product(*(range(n) for n in outs)):
        start = [oo * ss - pp for oo, ss, pp in zip(o, s, p)]
        end = [min(a + kk, n + pp) for a, kk, n, pp in zip(start, k, spatial, p)]
        pool_size = int(np.prod([e - a for a, e in zip(start, end)]))
        start = [max(a, 0) for a in start]
        end = [min(e, n) for e, n in zip(end, spatial)]
        if any(a >= e for a, e in zip(start, end)):
            continue
        window = x[(slice(None), slice(None)) + tuple(slice(a, e) for a, e in zip(start, end))]
        sums = window.reshape(x.shape[0], x.shape[1], -1).sum(axis=2)
        if divisor is not None:
            d = divisor
        elif count_include_pad:
            d = pool_size
        else:
            d = int(np.prod([e - a for a, e in zip(start, end)]))
        for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
            y[(n, c) + o] = trunc_div(int(sums[n, c]), d)
    return y


def ints(rng, shape):
    return rng.integers(-50, 50, size=shape).astype(np.int64)


# ------------------------------------------------------------------ int64 average pooling

@pytest.mark.parametrize("options", [
    dict(k=2, s=2, p=0),
    dict(k=3, s=2, p=1),
    dict(k=3, s=2, p=1, count_include_pad=False),
    dict(k=2, s=2, p=1, ceil_mode=True),
    dict(k=3, s=2, p=1, ceil_mode=True, count_include_pad=False),
])
def test_avg_pool_int64_divides_in_integers_toward_zero(device, rng, options):
    options = dict(options)
    k, s, p = options.pop("k"), options.pop("s"), options.pop("p")
    x1, x2, x3 = ints(rng, (2, 3, 7)), ints(rng, (2, 2, 5, 6)), ints(rng, (1, 2, 5, 4, 5))
    y1 = F.avg_pool1d(tg.tensor(x1, device=device), k, s, p, **options)
    y2 = F.avg_pool2d(tg.tensor(x2, device=device), k, s, p, **options)
    y3 = F.avg_pool3d(tg.tensor(x3, device=device), k, s, p, **options)
    for y, x, dims in ((y1, x1, 1), (y2, x2, 2), (y3, x3, 3)):
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y.numpy(), ref_int_avg_pool(x, (k,) * dims, (s,) * dims,
                                                                  (p,) * dims, **options))


@pytest.mark.parametrize("divisor", [3, -4])
def test_avg_pool_int64_divisor_override_truncates(device, rng, divisor):
    x2, x3 = ints(rng, (1, 2, 4, 6)), ints(rng, (1, 1, 4, 4, 4))
    y2 = F.avg_pool2d(tg.tensor(x2, device=device), 2, padding=1, divisor_override=divisor)
    y3 = F.avg_pool3d(tg.tensor(x3, device=device), 2, divisor_override=divisor)
    np.testing.assert_array_equal(
        y2.numpy(), ref_int_avg_pool(x2, (2, 2), (2, 2), (1, 1), divisor=divisor))
    np.testing.assert_array_equal(
        y3.numpy(), ref_int_avg_pool(x3, (2, 2, 2), (2, 2, 2), (0, 0, 0), divisor=divisor))


def test_avg_pool_modules_and_unbatched_int64_keep_int64(device):
    # sums -7, -1, 5 over windows of 2: -3, 0, 2 toward zero (floor would give -4, -1, 2)
    x = np.array([[-4, -3, -1, 0, 2, 3]], dtype=np.int64)                  # (C, L)
    y1 = nn.AvgPool1d(2)(tg.tensor(x, device=device))
    assert y1.dtype == np.int64
    np.testing.assert_array_equal(y1.numpy(), [[-3, 0, 2]])
    x2 = x.reshape(1, 1, 2, 3)                                              # [[-4 -3 -1], [0 2 3]]
    y2 = nn.AvgPool2d((2, 1))(tg.tensor(x2, device=device))
    np.testing.assert_array_equal(y2.numpy(), [[[[-2, 0, 1]]]])
    y3 = nn.AvgPool3d((1, 2, 1))(tg.tensor(x2[None], device=device))
    assert y3.dtype == np.int64
    np.testing.assert_array_equal(y3.numpy(), [[[[[-2, 0, 1]]]]])


@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.uint8, np.bool_])
def test_avg_pool_refuses_integers_other_than_int64(dtype):
    # PyTorch's CPU kernels dispatch floats and Long only: "not implemented for 'Int'"
    x = tg.tensor(np.ones((1, 1, 4, 4, 4), dtype=dtype))
    with pytest.raises(TypeError, match=r"avg_pool1d: expected a floating-point or int64 "):
        F.avg_pool1d(x[0, 0], 2)
    with pytest.raises(TypeError, match=r"avg_pool2d: expected a floating-point or int64 "):
        F.avg_pool2d(x[0], 2)
    with pytest.raises(TypeError, match=r"avg_pool3d: expected a floating-point or int64 "):
        nn.AvgPool3d(2)(x)


def test_adaptive_avg_pool_refuses_integers(device):
    # PyTorch's adaptive average kernels have no integer dispatch (nor mean, for size 1)
    x = tg.tensor(np.arange(2 * 4 * 4 * 4).reshape(1, 2, 4, 4, 4), device=device)
    for pool, data, size in ((F.adaptive_avg_pool1d, x[0, 0, 0], 2),
                             (F.adaptive_avg_pool2d, x[0], 1),
                             (nn.AdaptiveAvgPool2d(2), x[0], None),
                             (F.adaptive_avg_pool3d, x, 2)):
        name = getattr(pool, "__name__", "adaptive_avg_pool2d")
        with pytest.raises(TypeError, match=f"{name}: expected a floating-point input, got "
                                            "int64"):
            pool(data) if size is None else pool(data, size)
    # floats still average: bins of 2 along L
    y = F.adaptive_avg_pool1d(x[0, 0, 0].double(), 2)
    np.testing.assert_allclose(y.numpy(), np.arange(16.0).reshape(4, 2, 2).mean(axis=2))


# ------------------------------------------------------------------ max_unpool's indices

@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_requires_int64_indices(device, rng, dims):
    shape = (1, 2) + (4,) * dims
    x = tg.tensor(rng.standard_normal(shape), device=device)
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]
    unpool = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}[dims]
    pooled, indices = pool(x, 2, return_indices=True)
    out = unpool(pooled, indices, 2)
    expected = np.zeros((1, 2, 4 ** dims))
    np.put_along_axis(expected, indices.numpy().reshape(1, 2, -1),
                      pooled.numpy().reshape(1, 2, -1), 2)
    np.testing.assert_array_equal(out.numpy(), expected.reshape(shape))
    for dtype in (tg.int32, tg.int16, tg.float64):
        with pytest.raises(RuntimeError, match=f"max_unpool{dims}d: elements in indices should "
                                               f"be type int64 but got: {np.dtype(dtype)}"):
            unpool(pooled, indices.to(dtype), 2)
    module = {1: nn.MaxUnpool1d, 2: nn.MaxUnpool2d, 3: nn.MaxUnpool3d}[dims](2)
    with pytest.raises(RuntimeError, match="should be type int64 but got: int32"):
        module(pooled, indices.int())


# ------------------------------------------------------------------ recurrent layers' proj_size

@pytest.mark.parametrize("layer, name", [(nn.RNN, "RNN"), (nn.GRU, "GRU")])
@pytest.mark.parametrize("proj_size", [0, 2])
def test_rnn_and_gru_refuse_proj_size(layer, name, proj_size):
    # PyTorch refuses the keyword itself, whatever its value
    with pytest.raises(ValueError, match=f"{name}: proj_size argument is only supported for "
                                         "LSTM, not RNN or GRU"):
        layer(3, 4, proj_size=proj_size)


def test_lstm_proj_size_bounds():
    with pytest.raises(ValueError, match="LSTM: proj_size should be a positive integer or zero "
                                         "to disable projections, got -1"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="proj_size 5 has to be smaller than hidden_size 4"):
        nn.LSTM(3, 4, proj_size=5)
    assert nn.LSTM(3, 4, proj_size=3).weight_hr_l0.shape == (3, 4)


# ------------------------------------------------------------------ pack_padded_sequence lengths

def test_pack_padded_sequence_refuses_lengths_on_a_device(device, rng):
    padded = rng.standard_normal((4, 3, 2))                                # (L, B, *)
    lengths = [4, 2, 1]
    data = tg.tensor(padded, device=device)
    expected = np.stack([padded[t, b] for t in range(4) for b in range(3) if lengths[b] > t])
    for given in (lengths, tg.tensor(lengths, device="cpu"),
                  tg.tensor(lengths, dtype=tg.int32, device="cpu")):
        packed = rnn.pack_padded_sequence(data, given)
        assert packed.data.device == device and packed.batch_sizes.device == "cpu"
        np.testing.assert_array_equal(packed.data.numpy(), expected)
        assert packed.batch_sizes.tolist() == [3, 2, 1, 1]
    if device != "cpu":
        for enforce_sorted in (True, False):
            with pytest.raises(RuntimeError, match=f"pack_padded_sequence: 'lengths' argument "
                                                   f"should be a 1D CPU int64 tensor, but got "
                                                   f"1D {device} int64 tensor"):
                rnn.pack_padded_sequence(data, tg.tensor(lengths, device=device),
                                         enforce_sorted=enforce_sorted)


# ------------------------------------------------------------------ sparse=True

def test_sparse_embeddings_are_refused_naming_the_argument():
    weight = tg.ones(4, 3)
    refusals = [("Embedding", lambda: nn.Embedding(4, 3, sparse=True)),
                ("Embedding", lambda: nn.Embedding.from_pretrained(weight, sparse=True)),
                ("embedding", lambda: F.embedding(tg.tensor([0, 1]), weight, sparse=True)),
                ("EmbeddingBag", lambda: nn.EmbeddingBag(4, 3, sparse=True)),
                ("embedding_bag", lambda: F.embedding_bag(tg.tensor([0, 1]), weight,
                                                          tg.tensor([0]), sparse=True))]
    for name, make in refusals:
        with pytest.raises(NotImplementedError, match=f"^{name}: sparse=True is not supported: "
                                                      "sparse gradients need sparse tensors"):
            make()
    # sparse=False (the default) looks rows up
    np.testing.assert_array_equal(F.embedding(tg.tensor([2]), weight, sparse=False).numpy(),
                                  np.ones((1, 3)))


# --- a full backward hook that returns None for an input --------------------------------

class _TwoInputs(nn.Module):
    def forward(self, a, b):
        return a * 2 + b * 3


def test_a_full_backward_hook_that_gives_none_leaves_that_input_without_gradient():
    """PyTorch: a None in the returned grad_input is no gradient (the leaf's .grad stays
    None), not zeros; the other inputs and other paths are untouched."""
    module = _TwoInputs()
    module.register_full_backward_hook(lambda m, grad_input, grad_output: (None, grad_input[1]))
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    (module(a, b).sum() + (a * 5).sum()).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [5.0, 5.0])  # the other path only
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])
    linear = nn.Linear(2, 2)
    linear.register_full_backward_hook(lambda m, grad_input, grad_output: (None,))
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    linear(x).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(linear.weight.grad.numpy(), [[1.0, 2.0], [1.0, 2.0]])


def test_a_dropped_input_gets_its_gradient_again_in_a_later_backward():
    """The drop holds for one backward: a second pass over the kept graph whose hook
    returns None (no change) sends the gradient again."""
    drop = [True]
    module = _TwoInputs()
    module.register_full_backward_hook(
        lambda m, grad_input, grad_output: (None, grad_input[1]) if drop[0] else None)
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    out = module(a, b).sum()
    out.backward(retain_graph=True)
    assert a.grad is None
    drop[0] = False
    out.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [6.0, 6.0])
