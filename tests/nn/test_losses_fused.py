"""The fused CrossEntropy op (nn/loss.py) against its composed twin and NumPy.

``cross_entropy`` runs one fused op in the plainest case (logits (N, C), class
indices, no weight, no ignored target, no smoothing, 'mean' or 'sum'); every
other case is the composition of LogSoftmax, GetItem, Neg, Sum and Div. The
composed form is the oracle: the same values and gradients, first and second
derivatives by finite differences, and the dispatch itself.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.nn import loss as L


def composed(x, target, reduction):
    """cross-entropy written with Tensor ops, as the loss module did before fusing."""
    rows = np.arange(x.shape[0])
    picked = -x.log_softmax(1)[rows, tg.backend.to_host(target.data)]
    return picked.mean() if reduction == "mean" else picked.sum()


def ref_cross_entropy(x, target, reduction):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses = -log_probs[np.arange(len(target)), target]
    return losses.mean() if reduction == "mean" else losses.sum()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), c=st.integers(1, 7), reduction=st.sampled_from(["mean", "sum"]),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 10_000))
def test_fused_equals_composed_and_numpy(n, c, reduction, dtype, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3, size=(n, c))
    labels = rng.integers(0, c, size=n)
    for device in ["cpu", "strict"]:
        x = tg.tensor(logits, dtype=dtype, device=device, requires_grad=True)
        target = tg.tensor(labels, device=device)
        loss = L.cross_entropy(x, target, reduction=reduction)
        assert type(loss.grad_fn).__name__ == "CrossEntropy"
        loss.backward()
        x_twin = tg.tensor(logits, dtype=dtype, device=device, requires_grad=True)
        twin = composed(x_twin, target, reduction)
        twin.backward()
        tolerance = (dict(rtol=1e-5, atol=1e-6) if dtype == "float32"
                     else dict(rtol=1e-10, atol=1e-15))
        assert loss.dtype == twin.dtype == np.dtype(dtype) and loss.shape == ()
        np.testing.assert_allclose(loss.item(), twin.item(), **tolerance)
        np.testing.assert_allclose(loss.item(), ref_cross_entropy(logits, labels, reduction),
                                   **tolerance)
        np.testing.assert_allclose(x.grad.numpy(), x_twin.grad.numpy(), **tolerance)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_gradcheck_and_gradgradcheck(device, rng, reduction):
    x = tg.tensor(rng.normal(size=(5, 4)), device=device, requires_grad=True)
    target = tg.tensor(rng.integers(0, 4, size=5), device=device)
    assert tg.gradcheck(lambda a: L.cross_entropy(a, target, reduction=reduction), [x])
    assert tg.gradgradcheck(lambda a: L.cross_entropy(a, target, reduction=reduction), [x])


def test_fused_hessian_matches_composed(rng):
    x = tg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    target = tg.tensor(np.array([0, 3, 3]))
    fused = tg.autograd.functional.hessian(lambda a: L.cross_entropy(a, target), x)
    twin = tg.autograd.functional.hessian(lambda a: composed(a, target, "mean"), x)
    np.testing.assert_allclose(fused.numpy(), twin.numpy(), rtol=1e-10, atol=1e-12)


def test_large_logits_stay_finite(device):
    x = tg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]]), device=device,
                  requires_grad=True)
    target = tg.tensor(np.array([1, 1]), device=device)
    loss = L.cross_entropy(x, target)
    loss.backward()
    assert np.isclose(loss.item(), 1e4)  # row 0 misses by 2e4 and row 1 is right: mean 1e4
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("options, shape", [
    (dict(weight=tg.tensor([1.0, 2.0, 3.0], dtype="float64")), (4, 3)),
    (dict(label_smoothing=0.1), (4, 3)),
    (dict(reduction="none"), (4, 3)),
    (dict(ignore_index=2), (4, 3)),
    ({}, (4, 3, 2)),
])
def test_other_cases_take_the_composed_path(rng, options, shape):
    x = tg.tensor(rng.normal(size=shape), requires_grad=True)
    labels = np.array([0, 1, 2, 2]) if len(shape) == 2 else rng.integers(0, 3, size=(4, 2))
    loss = L.cross_entropy(x, tg.tensor(labels), **options)
    assert type(loss.grad_fn).__name__ != "CrossEntropy"


def test_ignore_index_outside_the_targets_still_fuses(rng):
    x = tg.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    loss = L.cross_entropy(x, tg.tensor(np.array([0, 1, 1, 0])), ignore_index=2)
    assert type(loss.grad_fn).__name__ == "CrossEntropy"


def test_module_uses_the_fused_op_and_errors_still_name_the_class(rng):
    x = tg.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    loss = tg.nn.CrossEntropyLoss()(x, tg.tensor(np.array([2, 0])))
    assert type(loss.grad_fn).__name__ == "CrossEntropy"
    with pytest.raises(IndexError, match="target value 3 is out of range for 3 classes"):
        L.cross_entropy(x, tg.tensor(np.array([3, 0])))
    with pytest.raises(IndexError, match="target value -1 is out of range"):
        L.cross_entropy(x, tg.tensor(np.array([0, -1])))


# --- the class check inside the op (ravel_multi_index), 2026-12-07 ---

@pytest.mark.parametrize("bad", [3, 7, -1, -3, -4, -100])
def test_the_fused_path_names_a_class_out_of_range(device, bad, rng):
    """On NumPy's devices the fused op checks the classes itself (no host read before it):
    every class outside 0..C-1, negative ones included (NumPy's fancy index would wrap
    -1..-C), is still cross_entropy's IndexError naming it."""
    x = tg.tensor(rng.normal(size=(3, 3)), device=device, requires_grad=True)
    target = tg.tensor(np.array([0, bad, 2]), device=device)
    with pytest.raises(IndexError, match=f"target value {bad} is out of range for 3 classes"):
        L.cross_entropy(x, target, ignore_index=-5)
    assert x.grad is None


def test_the_op_itself_refuses_a_class_out_of_range(device):
    """CrossEntropy.apply without the loss around it: ValueError from its index check,
    never a wrapped (wrong) pick of the last class for -1."""
    from tinygrad_opt.ops.fused import CrossEntropy
    x = tg.tensor(np.zeros((2, 3)), device=device, requires_grad=True)
    for target in ([0, -1], [0, 3]):
        with pytest.raises(ValueError, match="invalid entry"):
            CrossEntropy.apply(x, tg.tensor(np.array(target), device=device), scale=0.5)


@pytest.mark.parametrize("ignore_index", [-100, -1])
def test_a_negative_ignore_index_in_the_targets_takes_the_composed_path(device, ignore_index,
                                                                       rng):
    """The op's check fails on an ignored (negative) class; the loss then counts the
    ignored targets and computes the composed form: the mean over the kept rows."""
    x = rng.normal(size=(4, 3))
    xt = tg.tensor(x, device=device, requires_grad=True)
    target = np.array([2, ignore_index, 0, 1])
    loss = L.cross_entropy(xt, tg.tensor(target, device=device), ignore_index=ignore_index)
    assert type(loss.grad_fn).__name__ != "CrossEntropy"
    kept = target != ignore_index
    np.testing.assert_allclose(loss.item(), ref_cross_entropy(x[kept], target[kept], "mean"),
                               rtol=1e-12)
    loss.backward()
    assert np.all(xt.grad.numpy()[1] == 0)


def test_the_fused_path_reads_no_target_on_the_host(monkeypatch, rng):
    """On the CPU the class check is the op's (in C): _class_targets reads nothing on the
    host when the fused op follows. (A pin of the speed-up, docs/benchmarks.md.)"""
    from tinygrad_opt import backend
    from tinygrad_opt.nn import functional_loss
    reads = []
    real = backend.to_host
    monkeypatch.setattr(functional_loss.backend, "to_host",
                        lambda value: reads.append(value) or real(value))
    x = tg.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    loss = L.cross_entropy(x, tg.tensor(np.array([0, 2, 1, 1])))
    assert type(loss.grad_fn).__name__ == "CrossEntropy" and reads == []
    L.cross_entropy(x, tg.tensor(np.array([0, 2, 1, 1])), ignore_index=1)  # counted on the host
    assert reads  # (the probe sees host reads)


def test_a_target_written_after_forward_still_refuses_backward(rng):
    x = tg.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    target = tg.tensor(np.array([0, 2]))
    loss = L.cross_entropy(x, target)
    target[0] = 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
