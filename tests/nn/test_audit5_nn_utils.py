"""Audit (fifth round) of ``nn.utils``: clipping, the rnn packing helpers, skip_init.
Every expected value is computed here in NumPy from PyTorch's documented behaviour
(PyTorch is never imported).

Bugs found: ``clip_grad_norm_`` rounded a wider clip coefficient to a float16 gradient's
dtype before multiplying (PyTorch's ``mul_`` computes in float32 and rounds once: 1 ulp
apart in about 40% of the entries); ``pad_sequence`` promoted sequences of mixed dtypes
(PyTorch's result has the first sequence's dtype and device); ``unpad_sequence`` silently
dropped sequences when given fewer lengths (PyTorch: ValueError); ``PackedSequence``
lacked ``short``/``char``/``byte``/``pin_memory``, refused the arguments of ``cpu`` and
``cuda`` and the ``PackedSequence((data, batch_sizes))`` form, and accepted
``batch_sizes`` off the CPU (PyTorch: ValueError); ``skip_init`` of a class that is not a
Module failed inside ``inspect`` (PyTorch: RuntimeError)."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import utils
from tinygrad_opt.nn.utils import rnn
from tinygrad_opt.nn.utils.rnn import PackedSequence


def _with_grad(values, device="cpu"):
    p = tg.tensor(np.zeros_like(values), device=device, requires_grad=True)
    p.grad = tg.tensor(values, device=device)
    return p


# ----------------------------------------------------------------------------- clipping

def test_clip_grad_norm_rounds_a_float16_gradient_once(device, rng):
    # PyTorch: the per-gradient norms (float16, float32) stack as float32, so the
    # coefficient is float32; g.mul_(coef) on a float16 g computes g·coef in float32
    # and rounds once to float16 (not g·float16(coef)).
    g16 = (rng.standard_normal(200) * 3).astype(np.float16)
    g32 = rng.standard_normal(7).astype(np.float32)
    params = [_with_grad(g16, device), _with_grad(g32, device)]
    total = utils.clip_grad_norm_(params, 1.0)
    assert total.dtype == tg.float32 and total.device == device
    n16 = np.float16(np.linalg.norm(g16.astype(np.float32)))
    n32 = np.linalg.norm(g32)
    np.testing.assert_allclose(total.item(), np.hypot(np.float32(n16), n32), rtol=1e-6)
    coef = np.float32(1.0) / (np.float32(total.item()) + np.float32(1e-6))   # < 1 here
    assert coef < 1
    expected16 = (g16.astype(np.float32) * coef).astype(np.float16)
    assert params[0].grad.dtype == tg.float16
    np.testing.assert_array_equal(params[0].grad.numpy(), expected16)
    np.testing.assert_array_equal(params[1].grad.numpy(), g32 * coef)


def test_clip_grads_with_norm_of_a_float64_norm_on_float16_gradients(device, rng):
    # a float64 total norm (summed over workers, say) scales a float16 gradient through
    # float32, PyTorch's opmath type for float16: float16(float16(g)·float32(coef))
    g16 = rng.standard_normal(100).astype(np.float16)
    p = _with_grad(g16, device)
    utils.clip_grads_with_norm_([p], 0.7, tg.tensor(np.float64(3.3), device=device))
    coef = np.float32(0.7 / (3.3 + 1e-6))
    np.testing.assert_array_equal(p.grad.numpy(),
                                  (g16.astype(np.float32) * coef).astype(np.float16))


# -------------------------------------------------------------------- rnn: pad / unpad

def test_pad_sequence_takes_the_first_sequences_dtype_and_device(device, rng):
    a = rng.standard_normal((3, 2)).astype(np.float32)
    b = rng.standard_normal((1, 2))                                     # float64
    first = tg.tensor(a, device=device)
    second = tg.tensor(b, device="cpu", requires_grad=True)
    padded = rnn.pad_sequence([first, second], batch_first=True, padding_value=-1.0,
                              padding_side="left")
    expected = np.full((2, 3, 2), -1.0, np.float32)
    expected[0] = a
    expected[1, 2:] = b.astype(np.float32)
    assert padded.dtype == tg.float32 and padded.device == device
    np.testing.assert_array_equal(padded.numpy(), expected)
    weights = rng.standard_normal((2, 3, 2)).astype(np.float32)
    (padded * tg.tensor(weights, device=device)).sum().backward()
    assert second.grad.dtype == tg.float64 and second.grad.device == "cpu"
    np.testing.assert_allclose(second.grad.numpy(), weights[1, 2:], rtol=1e-7)
    ints = rnn.pad_sequence([tg.tensor(np.array([4, 5]), device=device),
                             tg.tensor(np.array([-2.7]), device=device)], padding_value=9)
    assert ints.dtype == tg.int64                                      # float -> int: trunc
    np.testing.assert_array_equal(ints.numpy(), np.array([[4, -2], [5, 9]]))


def test_unpad_sequence_refuses_a_wrong_number_of_lengths(device, rng):
    x = rng.standard_normal((4, 3, 2))
    padded = tg.tensor(x, device=device)                              # (L, B, *)
    pieces = rnn.unpad_sequence(padded, tg.tensor(np.array([2, 4, 1])))
    for b, (piece, length) in enumerate(zip(pieces, [2, 4, 1])):
        np.testing.assert_array_equal(piece.numpy(), x[:length, b])
    with pytest.raises(ValueError, match=r"unpad_sequence: 2 lengths for the 3 sequences"):
        rnn.unpad_sequence(padded, [2, 1])
    with pytest.raises(ValueError, match=r"unpad_sequence: 4 lengths for the 3 sequences"):
        rnn.unpad_sequence(padded.transpose(0, 1), [4, 3, 2, 1], batch_first=True)


# -------------------------------------------------------------------- PackedSequence

def _packed(device):
    """Lengths 2, 3, 1 unsorted; step t of sequence s holds 10·s + t + 0.5·(-1)^t."""
    sequences = [tg.tensor(np.array([[10.0 * s + t + 0.5 * (-1) ** t] for t in range(n)]),
                           device=device) for s, n in enumerate([2, 3, 1])]
    return rnn.pack_sequence(sequences, enforce_sorted=False)


@pytest.mark.parametrize("method, dtype", [("short", np.int16), ("char", np.int8),
                                           ("byte", np.uint8)])
def test_the_small_integer_methods_convert_data_only(device, method, dtype):
    packed = _packed(device)
    converted = getattr(packed, method)()
    assert type(converted) is PackedSequence
    assert converted.data.dtype == dtype and converted.data.device == device
    np.testing.assert_array_equal(converted.data.numpy(), packed.data.numpy().astype(dtype))
    assert converted.batch_sizes is packed.batch_sizes
    assert converted.sorted_indices.numpy().tolist() == [1, 0, 2]
    assert converted.unsorted_indices.numpy().tolist() == [1, 0, 2]


def test_pin_memory_and_the_arguments_of_cpu(device):
    packed = _packed(device)
    assert packed.pin_memory().data is packed.data
    host = packed.cpu(non_blocking=True)
    assert host.data.device == "cpu" and host.sorted_indices.device == "cpu"
    np.testing.assert_array_equal(host.data.numpy(), packed.data.numpy())
    half = packed.cpu(dtype=tg.float16)                      # cpu(*args) goes to to()
    assert half.data.device == "cpu" and half.data.dtype == tg.float16
    np.testing.assert_array_equal(half.data.numpy(), packed.data.numpy().astype(np.float16))
    if not tg.backend.cuda_available():
        with pytest.raises(RuntimeError, match="'cuda' was asked for"):
            packed.cuda(0, non_blocking=True)


def test_packed_sequence_of_a_pair_and_batch_sizes_on_the_cpu_only(device):
    packed = _packed(device)
    again = PackedSequence((packed.data, packed.batch_sizes), sorted_indices=packed.sorted_indices)
    assert again.data is packed.data and again.batch_sizes is packed.batch_sizes
    assert again.unsorted_indices.numpy().tolist() == [1, 0, 2]
    padded, lengths = rnn.pad_packed_sequence(again, batch_first=True)
    assert lengths.numpy().tolist() == [2, 3, 1]
    np.testing.assert_array_equal(padded.numpy()[:, :, 0], [[0.5, 0.5, 0], [10.5, 10.5, 12.5],
                                                            [20.5, 0, 0]])
    if device != "cpu":
        with pytest.raises(ValueError, match="batch_sizes should always be on CPU"):
            PackedSequence(packed.data, packed.batch_sizes.to(device))


# --------------------------------------------------------------------------- skip_init

def test_skip_init_needs_a_module_class(device):
    layer = utils.skip_init(nn.Linear, 3, 2, device=device)
    assert layer.weight.shape == (2, 3) and layer.weight.device == device
    for not_a_module in (int, lambda device=None: nn.Linear(1, 1)):
        with pytest.raises(RuntimeError, match="skip_init: expected a Module class"):
            utils.skip_init(not_a_module)
