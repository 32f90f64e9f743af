"""Audit of the functional extras against PyTorch's documented semantics: embedding_bag
(max mode's tie rule, max_norm, scale_grad_by_freq, the type of offsets), normalize's
dim check, and NumPy-reference checks of the distances and of interpolate's
recompute_scale_factor. References are plain NumPy written from PyTorch's formulas."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.autograd import gradcheck
from tinygrad_opt.nn import functional as F


def ints(values, device):
    return tg.tensor(np.asarray(values, dtype=np.int64), device=device)


def ref_bags(data, flat, offsets, mode, padding_idx=None):
    """PyTorch's embedding_bag forward, one bag at a time (a 1-D input cut at offsets)."""
    ends = list(offsets[1:]) + [len(flat)]
    out = []
    for start, end in zip(offsets, ends):
        keep = [flat[i] for i in range(start, end) if flat[i] != padding_idx]
        if not keep:
            out.append(np.zeros(data.shape[1]))
            continue
        vectors = data[keep]
        out.append({"sum": vectors.sum(0), "mean": vectors.mean(0), "max": vectors.max(0)}[mode])
    return np.stack(out)


def ref_renorm(data, flat, max_norm, norm_type):
    """PyTorch's embedding_renorm_: each looked-up row whose norm exceeds max_norm is
    scaled by max_norm / (norm + 1e-7), once however often it is looked up."""
    data = data.copy()
    for k in sorted(set(flat)):
        norm = np.linalg.norm(data[k], ord=norm_type)
        if norm > max_norm:
            data[k] = data[k] * (max_norm / (norm + 1e-7))
    return data


# --------------------------------------------------------------------------- embedding_bag

def test_embedding_bag_max_gives_a_tie_to_the_first_entry_of_the_bag(device):
    """PyTorch's max mode keeps, per coordinate, the first entry with the largest value
    (a strict ``>`` scan over the bag) and sends that entry the whole gradient; tied
    rows used to share it (0.5 each)."""
    data = np.array([[1.0, 2.0], [1.0, 0.0], [0.0, 2.0], [3.0, -1.0]])
    weight = tg.tensor(data, device=device, requires_grad=True)
    flat, offsets = [1, 0, 2, 3, 0], [0, 3]
    upstream = np.array([[0.5, -2.0], [1.5, 3.0]])
    y = F.embedding_bag(ints(flat, device), weight, ints(offsets, device), mode="max")
    np.testing.assert_array_equal(y.numpy(), ref_bags(data, flat, offsets, "max"))
    (y * tg.tensor(upstream, device=device)).sum().backward()
    expected = np.zeros_like(data)
    for b, (start, end) in enumerate(zip(offsets, offsets[1:] + [len(flat)])):
        for d in range(data.shape[1]):
            best = start
            for i in range(start + 1, end):
                if data[flat[i], d] > data[flat[best], d]:
                    best = i
            expected[flat[best], d] += upstream[b, d]
    np.testing.assert_array_equal(weight.grad.numpy(), expected)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_max_norm_renormalises_the_looked_up_rows(mode, device):
    """PyTorch renormalises every looked-up row (padding ones included) in place before
    reducing; it used to refuse max_norm (NotImplementedError)."""
    data = np.random.default_rng(4).standard_normal((6, 3)) * 3
    flat, offsets = [1, 4, 4, 5, 2, 0], [0, 2, 4]
    for norm_type in (2.0, 1.0):
        weight = tg.tensor(data.copy(), device=device)
        y = F.embedding_bag(ints(flat, device), weight, ints(offsets, device), mode=mode,
                            max_norm=1.25, norm_type=norm_type, padding_idx=5)
        renormed = ref_renorm(data, flat, 1.25, norm_type)
        np.testing.assert_allclose(weight.numpy(), renormed, rtol=1e-12)
        np.testing.assert_allclose(y.numpy(), ref_bags(renormed, flat, offsets, mode, 5),
                                   rtol=1e-12)
    module = nn.EmbeddingBag.from_pretrained(tg.tensor(data.copy()), max_norm=1.25,
                                             mode=mode)
    out = module(tg.tensor([[1, 3], [3, 2]]))
    renormed = ref_renorm(data, [1, 3, 2], 1.25, 2.0)
    np.testing.assert_allclose(module.weight.numpy(), renormed, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), ref_bags(renormed, [1, 3, 3, 2], [0, 2], mode),
                               rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_scale_grad_by_freq(mode, device):
    """PyTorch (sum, mean): each entry's gradient is divided by how often its index
    occurs in the whole input; max mode ignores the option. Values are unchanged. It
    used to be refused (NotImplementedError)."""
    data = np.random.default_rng(5).standard_normal((5, 2))
    weight = tg.tensor(data, device=device, requires_grad=True)
    flat, offsets = [0, 2, 2, 3, 2, 0, 1], [0, 3, 3, 5]          # bag 1 is empty
    upstream = np.random.default_rng(6).standard_normal((4, 2))
    y = F.embedding_bag(ints(flat, device), weight, ints(offsets, device), mode=mode,
                        scale_grad_by_freq=True)
    np.testing.assert_allclose(y.numpy(), ref_bags(data, flat, offsets, mode), rtol=1e-12)
    (y * tg.tensor(upstream, device=device)).sum().backward()
    counts = np.bincount(flat, minlength=5)
    expected = np.zeros_like(data)
    for b, (start, end) in enumerate(zip(offsets, offsets[1:] + [len(flat)])):
        if mode == "max" and end > start:                          # no scaling: the arg max
            winners = np.array(flat[start:end])[data[flat[start:end]].argmax(0)]
            expected[winners, [0, 1]] += upstream[b]
            continue
        for k in flat[start:end]:
            expected[k] += upstream[b] / counts[k] / (end - start if mode == "mean" else 1)
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-12)
    module = nn.EmbeddingBag.from_pretrained(tg.tensor(data), freeze=False, mode=mode,
                                             scale_grad_by_freq=True, max_norm=9.0)
    assert "max_norm=9.0" in repr(module) and "scale_grad_by_freq=True" in repr(module)
    module(ints(flat, device=None), ints(offsets, device=None)).backward(
        tg.tensor(upstream))
    np.testing.assert_allclose(module.weight.grad.numpy(), expected, rtol=1e-12)


def test_embedding_bag_refuses_non_integer_offsets(device):
    """PyTorch wants integer offsets; float ones were silently truncated."""
    weight = tg.ones(4, 2, device=device)
    with pytest.raises(TypeError, match="embedding_bag: offsets must hold integers"):
        F.embedding_bag(ints([0, 1, 2], device), weight, tg.tensor([0.0, 1.7], device=device))


# ------------------------------------------------------------------- normalisation, distances

def test_normalize_names_itself_for_a_bad_dim(device):
    """PyTorch raises IndexError for dim out of range (dim=1, the default, on a 1-D
    input); the message named the internal op ('Sum') instead of normalize."""
    with pytest.raises(IndexError, match="normalize: dim 1"):
        F.normalize(tg.tensor([3.0, 4.0], device=device))
    np.testing.assert_allclose(F.normalize(tg.tensor([3.0, 4.0], device=device), dim=-1)
                               .numpy(), [0.6, 0.8])
    x = np.arange(1.0, 9.0).reshape(2, 2, 2)                   # dim may be a tuple, as PyTorch
    np.testing.assert_allclose(F.normalize(tg.tensor(x, device=device), dim=(1, -1)).numpy(),
                               x / np.sqrt((x * x).sum((1, 2), keepdims=True)), rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_normalize_values_and_gradcheck(p, device, rng):
    x = rng.standard_normal((3, 4, 2))
    norm = np.linalg.norm(x, ord=p, axis=1, keepdims=True) if p != 3.0 else \
        (np.abs(x) ** 3).sum(1, keepdims=True) ** (1 / 3)
    expected = x / np.maximum(norm, 1e-12)
    got = F.normalize(tg.tensor(x, device=device), p=p, dim=1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda v: F.normalize(v, p=p, dim=-2),
                     (tg.tensor(x, device=device, requires_grad=True),))


def test_pairwise_distance_keepdim_broadcast_and_pdist(device, rng):
    x1, x2 = rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 4))
    for p in (1.0, 2.0, 0.5):
        for keepdim in (False, True):
            got = F.pairwise_distance(tg.tensor(x1, device=device), tg.tensor(x2, device=device),
                                      p=p, keepdim=keepdim)
            diff = np.abs(x1 - x2 + 1e-6)                                  # (3, 2, 4)
            expected = (diff ** p).sum(-1, keepdims=keepdim) ** (1 / p)
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    rows = rng.standard_normal((4, 3))
    for p in (0.0, 1.0, 2.0, 3.5, math.inf):
        expected = []
        for i in range(4):
            for j in range(i + 1, 4):
                d = np.abs(rows[i] - rows[j])
                expected.append(np.count_nonzero(d) if p == 0 else
                                d.max() if p == math.inf else (d ** p).sum() ** (1 / p))
        np.testing.assert_allclose(F.pdist(tg.tensor(rows, device=device), p).numpy(),
                                   expected, rtol=1e-12)
    assert gradcheck(lambda v: F.pdist(v, 3.5), (tg.tensor(rows, device=device,
                                                          requires_grad=True),))


def test_cosine_similarity_broadcasts_and_takes_dim_in_the_common_shape(device, rng):
    x1, x2 = rng.standard_normal((2, 1, 3)), rng.standard_normal((4, 3))
    got = F.cosine_similarity(tg.tensor(x1, device=device), tg.tensor(x2, device=device), dim=-1)
    a, b = np.broadcast_arrays(x1, x2)
    expected = (a / np.linalg.norm(a, axis=-1, keepdims=True)
                * b / np.linalg.norm(b, axis=-1, keepdims=True)).sum(-1)
    assert tuple(got.shape) == (2, 4)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda u, v: F.cosine_similarity(u, v, dim=2),
                     (tg.tensor(x1, device=device, requires_grad=True),
                      tg.tensor(x2, device=device, requires_grad=True)))


# ---------------------------------------------------------------------------------- resampling

@pytest.mark.parametrize("recompute", [False, True])
def test_interpolate_linear_recompute_scale_factor(recompute, device, rng):
    """out = floor(in·scale_factor); the coordinates use s = 1/scale_factor, or in/out
    when the scale factor is recomputed: u = s(j + ½) − ½ clamped at 0."""
    x = rng.standard_normal((1, 2, 7))
    got = F.interpolate(tg.tensor(x, device=device), scale_factor=0.7, mode="linear",
                        recompute_scale_factor=recompute)
    out = math.floor(7 * 0.7)
    s = 7 / out if recompute else 1 / 0.7
    expected = np.empty((1, 2, out))
    for j in range(out):
        u = max(s * (j + 0.5) - 0.5, 0.0)
        i = int(np.floor(u))
        lam = u - i
        expected[..., j] = (1 - lam) * x[..., i] + lam * x[..., min(i + 1, 6)]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
