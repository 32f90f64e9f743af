"""PyTorch's later options of ``torch.autograd.grad`` (``materialize_grads``,
``is_grads_batched``) and ``set_detect_anomaly``; expected values written by hand."""

import numpy as np
import pytest

import tinygrad_opt as tg


def test_materialize_grads_gives_zeros_for_an_unused_input(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    unused = tg.tensor([[3.0]], dtype=tg.float64, requires_grad=True, device=device)
    gx, gu = tg.autograd.grad((x * x).sum(), [x, unused], materialize_grads=True)
    assert gx.tolist() == [2.0, 4.0]
    assert gu.shape == (1, 1) and gu.dtype == "float64" and gu.tolist() == [[0.0]]
    assert gu.device == device
    with pytest.raises(ValueError, match="allow_unused"):
        tg.autograd.grad((x * x).sum(), [x], allow_unused=False, materialize_grads=True)
    assert tg.grad is tg.autograd.grad


def test_is_grads_batched_gives_the_rows_of_the_jacobian():
    x = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    y = tg.stack([x[0] * x[1], x[1] ** 2])                       # (2,) from (3,)
    (jacobian,) = tg.autograd.grad(y, x, tg.eye(2, dtype=tg.float64), is_grads_batched=True)
    assert jacobian.tolist() == [[2.0, 1.0, 0.0], [0.0, 4.0, 0.0]]
    # the graph is freed after the last row only when retain_graph is not asked for
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()


def test_is_grads_batched_with_create_graph_differentiates_again():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = x ** 3
    (rows,) = tg.autograd.grad(y, x, tg.eye(2, dtype=tg.float64), is_grads_batched=True,
                               create_graph=True)                 # diag(3x²)
    (second,) = tg.autograd.grad(rows.sum(), x)                    # d/dx Σ 3x² = 6x
    assert np.allclose(rows.tolist(), [[3.0, 0.0], [0.0, 12.0]])
    assert np.allclose(second.tolist(), [6.0, 12.0])


def test_is_grads_batched_needs_batched_grad_outputs():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="batch"):
        tg.autograd.grad(x * 2, x, is_grads_batched=True)
    with pytest.raises(RuntimeError, match="same leading batch size"):
        tg.autograd.grad([x * 2, x * 3], x, [tg.ones(2, 2), tg.ones(3, 2)],
                         is_grads_batched=True)


def test_set_detect_anomaly_switches_at_once_and_as_a_block():
    assert not tg.autograd.is_anomaly_enabled()
    tg.autograd.set_detect_anomaly(True)
    try:
        assert tg.autograd.is_anomaly_enabled() and tg.autograd.is_anomaly_check_nan_enabled()
        x = tg.tensor([0.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Sqrt.backward returned NaN"):
            (x.sqrt() * 0).sum().backward()
    finally:
        tg.autograd.set_detect_anomaly(False)
    assert not tg.autograd.is_anomaly_enabled()
    with tg.autograd.set_detect_anomaly(True):
        assert tg.autograd.is_anomaly_enabled()
    assert not tg.autograd.is_anomaly_enabled()
