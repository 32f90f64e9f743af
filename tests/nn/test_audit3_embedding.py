"""Audit of the embedding family and one-hot against PyTorch's documented behaviour:
F.embedding / nn.Embedding (padding_idx, max_norm, scale_grad_by_freq, index dtypes,
from_pretrained), F.embedding_bag / nn.EmbeddingBag (modes, offsets, padding_idx,
per_sample_weights, gradients) and F.one_hot. References are plain NumPy loops."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.autograd import gradcheck
from tinygrad_opt.nn import functional as F


def table(device, rows=6, dim=3, seed=0, requires_grad=False):
    """A float64 (rows, dim) weight and its NumPy copy."""
    data = np.random.default_rng(seed).standard_normal((rows, dim))
    return tg.tensor(data, device=device, requires_grad=requires_grad), data


def ints(values, device, dtype=np.int64):
    return tg.tensor(np.asarray(values, dtype=dtype), device=device)


# ------------------------------------------------------------------------------- embedding

def test_embedding_scale_grad_by_freq_divides_each_rows_gradient_by_its_count(device):
    """PyTorch: the gradient of row k is Σ (output gradients at k) / (times k occurs in
    the mini-batch). It was refused (NotImplementedError)."""
    weight, data = table(device, requires_grad=True)
    index = [[0, 2, 2], [5, 2, 0]]
    upstream = np.random.default_rng(1).standard_normal((2, 3, 3))
    out = F.embedding(ints(index, device), weight, scale_grad_by_freq=True)
    np.testing.assert_array_equal(out.numpy(), data[np.array(index)])      # values unchanged
    (out * tg.tensor(upstream, device=device)).sum().backward()
    expected = np.zeros_like(data)
    flat = np.array(index).ravel()
    counts = np.bincount(flat, minlength=6)
    for position, k in enumerate(flat):
        expected[k] += upstream.reshape(-1, 3)[position] / counts[k]
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-12)
    # (no gradcheck: by design this gradient is not the derivative of the lookup)


def test_embedding_module_scale_grad_by_freq_with_padding():
    """nn.Embedding passes scale_grad_by_freq on; the padding row still gets nothing."""
    module = nn.Embedding(4, 2, padding_idx=-1, scale_grad_by_freq=True)
    module(tg.tensor([[1, 1, 3], [3, 1, 0]])).sum().backward()
    np.testing.assert_allclose(module.weight.grad.numpy(),
                               [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    assert "scale_grad_by_freq=True" in repr(module)
    with pytest.raises(NotImplementedError, match="sparse"):
        F.embedding(tg.tensor([0]), tg.ones(2, 2), sparse=True)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint8])
def test_embedding_refuses_index_dtypes_pytorch_refuses(dtype):
    """PyTorch's embedding takes Long or Int indices only; uint8 used to fail deep inside
    indexing with an unrelated message, int8/int16 were accepted."""
    with pytest.raises(TypeError, match=f"int32 or int64.*got dtype {np.dtype(dtype)}"):
        F.embedding(tg.tensor(np.array([0, 1], dtype=dtype)), tg.ones(3, 2))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_embedding_accepts_int32_and_int64_and_refuses_floats(dtype, device):
    weight, data = table(device)
    out = F.embedding(ints([[4, 0]], device, dtype), weight)
    np.testing.assert_array_equal(out.numpy(), data[[[4, 0]]])
    with pytest.raises(TypeError, match="float32"):
        F.embedding(tg.tensor([0.0], device=device), weight)


def test_embedding_out_of_range_index_is_named(device):
    weight, _ = table(device)
    with pytest.raises(IndexError, match="index 6 is out of range for 6"):
        F.embedding(ints([0, 6], device), weight)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding(ints([-1], device), weight)


def test_embedding_padding_row_gets_no_gradient_and_others_pass_gradcheck(device):
    weight, data = table(device, requires_grad=True)
    index = ints([[0, 5], [5, 1]], device)
    F.embedding(index, weight, padding_idx=-1).sum().backward()
    expected = np.zeros_like(data)
    expected[[0, 1]] = 1.0
    np.testing.assert_array_equal(weight.grad.numpy(), expected)
    assert gradcheck(lambda w: F.embedding(ints([[0, 4], [4, 1]], device), w, padding_idx=5),
                     (tg.tensor(data, device=device, requires_grad=True),))


def test_embedding_max_norm_renormalises_each_looked_up_row_once(device):
    """Repeated indices are renormalised once, to max_norm / (norm + 1e-7); rows not
    looked up stay; p-norms other than 2 are used for the test and the scale."""
    data = np.random.default_rng(2).standard_normal((5, 3)) * 4
    for norm_type in (2.0, 1.0, float("inf")):
        weight = tg.tensor(data.copy(), device=device)
        out = F.embedding(ints([1, 1, 3], device), weight, max_norm=1.5, norm_type=norm_type)
        expected = data.copy()
        for k in (1, 3):
            norm = np.linalg.norm(data[k], ord=norm_type)
            if norm > 1.5:
                expected[k] = data[k] * (1.5 / (norm + 1e-7))
        np.testing.assert_allclose(weight.numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(out.numpy(), expected[[1, 1, 3]], rtol=1e-12)


def test_embedding_from_pretrained_keeps_options_and_freezes():
    data = np.arange(6.0).reshape(3, 2)
    frozen = nn.Embedding.from_pretrained(tg.tensor(data), padding_idx=-1, max_norm=3.0,
                                          norm_type=1.0, scale_grad_by_freq=True)
    assert frozen.weight.requires_grad is False
    assert (frozen.padding_idx, frozen.max_norm, frozen.norm_type) == (2, 3.0, 1.0)
    assert frozen.scale_grad_by_freq is True
    assert nn.Embedding.from_pretrained(tg.tensor(data), freeze=False).weight.requires_grad
    module = nn.Embedding(7, 4)
    assert tuple(module.weight.shape) == (7, 4) and module.weight.requires_grad


# --------------------------------------------------------------------------- embedding_bag

def ref_bags(data, flat, offsets, mode, weights=None, padding_idx=None, last=False):
    """PyTorch's embedding_bag, one bag at a time."""
    ends = list(offsets[1:]) if last else list(offsets[1:]) + [len(flat)]
    starts = offsets[:-1] if last else offsets
    out = []
    for start, end in zip(starts, ends):
        keep = [i for i in range(start, end) if flat[i] != padding_idx]
        if not keep:
            out.append(np.zeros(data.shape[1]))
            continue
        vectors = np.stack([data[flat[i]] * (1.0 if weights is None else weights[i])
                            for i in keep])
        out.append({"sum": vectors.sum(0), "mean": vectors.mean(0), "max": vectors.max(0)}[mode])
    return np.stack(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_offsets_padding_and_empty_bags(mode, device):
    weight, data = table(device, requires_grad=True)
    flat, offsets = [1, 2, 5, 5, 3, 0, 1, 4], [0, 2, 2, 4]       # bag 1 empty, bag 2 padding
    y = F.embedding_bag(ints(flat, device), weight, ints(offsets, device), mode=mode,
                        padding_idx=5)
    np.testing.assert_allclose(y.numpy(), ref_bags(data, flat, offsets, mode, padding_idx=5),
                               rtol=1e-12)
    last = F.embedding_bag(ints(flat, device), weight, ints(offsets + [8], device), mode=mode,
                           include_last_offset=True)
    np.testing.assert_allclose(last.numpy(), ref_bags(data, flat, offsets + [8], mode,
                                                      last=True), rtol=1e-12)
    assert gradcheck(lambda w: F.embedding_bag(ints(flat, device), w, ints(offsets, device),
                                               mode=mode, padding_idx=5), (weight,))


def test_embedding_bag_max_gradient_goes_to_the_arg_max_entry(device):
    weight, data = table(device, requires_grad=True)
    bag = [1, 2, 3]
    F.embedding_bag(ints([bag], device), weight, mode="max").sum().backward()
    expected = np.zeros_like(data)
    winners = np.array(bag)[data[bag].argmax(0)]
    expected[winners, np.arange(3)] = 1.0
    np.testing.assert_array_equal(weight.grad.numpy(), expected)


def test_embedding_bag_per_sample_weights_2d_and_gradcheck(device):
    weight, data = table(device, requires_grad=True)
    index = [[1, 5, 2], [3, 3, 0]]
    scales = np.random.default_rng(3).standard_normal((2, 3))
    psw = tg.tensor(scales, device=device, requires_grad=True)
    y = F.embedding_bag(ints(index, device), weight, mode="sum", per_sample_weights=psw,
                        padding_idx=5)
    np.testing.assert_allclose(y.numpy(), ref_bags(data, sum(index, []), [0, 3], "sum",
                                                   scales.ravel(), padding_idx=5), rtol=1e-12)
    assert gradcheck(lambda w, s: F.embedding_bag(ints(index, device), w, mode="sum",
                                                  per_sample_weights=s, padding_idx=5),
                     (weight, psw))
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(ints(index, device), weight, mode="mean", per_sample_weights=psw)
    with pytest.raises(ValueError, match="offsets must be None for a 2-D input"):
        F.embedding_bag(ints(index, device), weight, ints([0, 3], device))
    with pytest.raises(ValueError, match="must start at 0"):
        F.embedding_bag(ints([0, 1], device), weight, ints([1], device))


def test_embedding_bag_module_and_from_pretrained():
    data = np.arange(12.0).reshape(4, 3)
    bag = nn.EmbeddingBag.from_pretrained(tg.tensor(data), mode="sum", padding_idx=-1,
                                          include_last_offset=True)
    assert bag.weight.requires_grad is False
    assert (bag.mode, bag.padding_idx, bag.include_last_offset) == ("sum", 3, True)
    out = bag(tg.tensor([0, 3, 2, 1]), tg.tensor([0, 2, 4]))
    np.testing.assert_array_equal(out.numpy(), [data[0], data[2] + data[1]])
    fresh = nn.EmbeddingBag(5, 2, padding_idx=1)
    np.testing.assert_array_equal(fresh.weight.numpy()[1], [0.0, 0.0])
    assert fresh.mode == "mean" and fresh.weight.requires_grad


# -------------------------------------------------------------------------------- one_hot

def test_one_hot_infers_classes_and_checks_values(device):
    labels = ints([[2, 0], [1, 2]], device)
    out = F.one_hot(labels)
    assert out.dtype == tg.int64 and tuple(out.shape) == (2, 2, 3)
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[[2, 0], [1, 2]]])
    assert tuple(F.one_hot(labels, 5).shape) == (2, 2, 5)
    with pytest.raises(ValueError, match="non-negative, got -1"):
        F.one_hot(ints([0, -1], device))
    with pytest.raises(ValueError, match=r"smaller than num_classes \(3\), got 3"):
        F.one_hot(ints([3], device), 3)


def test_one_hot_of_an_empty_tensor_needs_a_positive_num_classes(device):
    """PyTorch: 'Can not infer total number of classes from empty tensor.' for
    num_classes <= 0 (0 used to give a (0, 0) tensor); a positive one gives (0, C)."""
    empty = ints(np.zeros((0,)), device)
    for num_classes in (-1, 0):
        with pytest.raises(ValueError, match="cannot infer the number of classes"):
            F.one_hot(empty, num_classes)
    out = F.one_hot(empty, 4)
    assert tuple(out.shape) == (0, 4) and out.dtype == tg.int64
