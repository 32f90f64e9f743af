"""No op mixes devices: tensors on two devices give an error that names both, up front.

CuPy refuses a NumPy array beside a CuPy one, and so does the 'strict' test device; but
that refusal comes from deep inside an op, in the backend's words ("a NumPy (host)
array mixed with ..."), or not at all where the op turns the other tensor's array into
an index. PyTorch checks first ("Expected all tensors to be on the same device"). Every
multi-input entry of the op tables, and the functions and layers listed here, put one
input on 'strict' and the others on 'cpu' (then the other way round), must raise a
RuntimeError that names both devices before anything is computed or written.
(``copy_`` copies across devices, as PyTorch's; ``clip_grad_norm_`` and ``ctc_loss``'s
targets may lie elsewhere in PyTorch too: not listed.)
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from test_forward_ad import ALL_OPS, ONE_DRAW
from tinygrad_opt import nn

MULTI_INPUT = [op for op in ALL_OPS if op.arity > 1]
MIXED = r"(?s)(?=.*'cpu')(?=.*'strict')"  # the message names both devices


def test_the_table_has_multi_input_ops():
    assert len(MULTI_INPUT) > 100


@pytest.mark.parametrize("op", MULTI_INPUT, ids=[op.name for op in MULTI_INPUT])
@pytest.mark.parametrize("odd_one", [0, 1])
@ONE_DRAW
@given(data=st.data())
def test_every_table_op_refuses_inputs_on_two_devices(op, odd_one, data):
    shapes = data.draw(op.shapes(op.arity), label="shapes")
    arrays = op.domain(np.random.default_rng(0), shapes)
    for other in ("strict", "cpu"):
        devices = ["cpu" if other == "strict" else "strict"] * op.arity
        devices[odd_one] = other
        inputs = [tg.tensor(a, dtype=tg.float64, device=d) for a, d in zip(arrays, devices)]
        with pytest.raises(RuntimeError, match=MIXED):
            op.fn(*inputs)


def t(shape, device):
    return tg.tensor(np.random.default_rng(0).standard_normal(shape), dtype=tg.float32,
                     device=device)


def ints(values, device):
    return tg.tensor(values, device=device)


CASES = {
    "gather": lambda a, b: t((4, 3), a).gather(1, ints([[0], [1], [2], [0]], b)),
    "put_": lambda a, b: t((4,), a).put_(ints([0], b), t((1,), a)),
    "searchsorted": lambda a, b: tg.searchsorted(t((3,), a).sort()[0], t((3,), b)),
    "bucketize": lambda a, b: tg.bucketize(t((3,), a), t((3,), b).sort()[0]),
    "grid_sample": lambda a, b: F.grid_sample(t((1, 1, 4, 4), a), t((1, 2, 2, 2), b).tanh(),
                                              align_corners=False),
    "batch_norm_running": lambda a, b: F.batch_norm(t((4, 3), a), t((3,), b),
                                                    t((3,), b).abs(), training=True),
    "batch_norm_weight": lambda a, b: F.batch_norm(t((4, 3), a), None, None,
                                                   weight=t((3,), b), training=True),
    "BatchNorm1d": lambda a, b: nn.BatchNorm1d(3, device=a)(t((4, 3), b)),
    "scatter_add": lambda a, b: t((4, 3), a).scatter_add(0, ints([[0, 1, 2]], a),
                                                         t((1, 3), b)),
    "index_add": lambda a, b: t((4, 3), a).index_add(0, ints([0], a), t((1, 3), b)),
    "linalg.solve": lambda a, b: tg.linalg.solve(t((3, 3), a) + 3 * tg.eye(3, device=a),
                                                 t((3,), b)),
    "solve_triangular": lambda a, b: tg.linalg.solve_triangular(
        t((3, 3), a).triu() + 3 * tg.eye(3, device=a), t((3, 2), b), upper=True),
    "einsum": lambda a, b: tg.einsum("i,i->", t((3,), a), t((3,), b)),
    "cat": lambda a, b: tg.cat([t((2, 3), a), t((2, 3), b)]),
    "where": lambda a, b: tg.where(t((3,), a) > 0, t((3,), a), t((3,), b)),
    "embedding": lambda a, b: F.embedding(ints([0, 1], a), t((3, 2), b)),
    "Embedding": lambda a, b: nn.Embedding(3, 2, device=a)(ints([0, 1], b)),
    "setitem_value": lambda a, b: t((4, 3), a).__setitem__(0, t((3,), b)),
    "cross_entropy": lambda a, b: F.cross_entropy(t((4, 3), a), ints([0, 1, 2, 0], b)),
    "mse_loss": lambda a, b: F.mse_loss(t((4, 3), a), t((4, 3), b)),
    "Linear": lambda a, b: nn.Linear(3, 2, device=a)(t((4, 3), b)),
    "Conv2d": lambda a, b: nn.Conv2d(1, 1, 3, device=a)(t((1, 1, 4, 4), b)),
    "LSTM": lambda a, b: nn.LSTM(3, 2, device=a)(t((2, 1, 3), b)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("first", ["cpu", "strict"])
def test_functions_and_layers_refuse_tensors_on_two_devices(name, first):
    second = "strict" if first == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match=MIXED):
        CASES[name](first, second)


def test_batch_norm_refuses_before_it_updates_the_running_statistics():
    running_mean = tg.zeros(3)
    with pytest.raises(RuntimeError, match="batch_norm: operands are on different devices"):
        F.batch_norm(t((4, 3), "strict"), running_mean, tg.ones(3), training=True)
    assert np.array_equal(running_mean.numpy(), np.zeros(3))


def test_the_error_names_the_function_and_both_devices():
    with pytest.raises(RuntimeError, match=r"^gather: operands are on different devices: "
                                           r"'cpu' and 'strict'; move one with \.to\(device\)"):
        t((2, 2), "cpu").gather(0, ints([[0, 1]], "strict"))


def test_tensors_on_one_device_still_work():
    for device in ("cpu", "strict"):
        for name in ("gather", "searchsorted", "grid_sample", "batch_norm_running",
                     "linalg.solve", "put_"):
            CASES[name](device, device)


def test_a_cpu_index_indexes_a_tensor_on_any_device_and_only_a_cpu_one_as_in_pytorch():
    """PyTorch: "indices should be either on cpu or on the same device as the indexed
    tensor". Reading, writing (``x[index] = v``, ``index_put_``) and the gradient, with
    integer and boolean indices."""
    x = tg.tensor(np.arange(12.0).reshape(4, 3), device="strict", requires_grad=True)
    rows, mask = ints([0, 2, 2], "cpu"), ints([True, False, True, False], "cpu")
    assert np.array_equal(x[rows].numpy(), np.arange(12.0).reshape(4, 3)[[0, 2, 2]])
    assert x[mask].device == "strict"
    (x[rows].sum() + x[mask].sum()).backward()
    assert np.array_equal(x.grad.numpy(), [[2] * 3, [0] * 3, [3] * 3, [0] * 3])
    y = t((4, 3), "strict")
    y[rows] = 7.0
    assert np.array_equal(y.numpy()[[0, 2]], np.full((2, 3), 7.0))
    z = tg.zeros(4, 3, device="strict", dtype=tg.float64)
    z.index_put_((rows,), tg.ones(3, device="strict", dtype=tg.float64), accumulate=True)
    assert z.numpy()[:, 0].tolist() == [1, 0, 2, 0]
    with pytest.raises(RuntimeError, match="index_put_: an index is on 'strict', the tensor "
                                           "on 'cpu': indices must be on the CPU"):
        tg.zeros(4, 3).index_put_((ints([0], "strict"),), tg.ones(3))
    for index in (ints([0, 2], "strict"), ints([True, False, True, False], "strict")):
        with pytest.raises(RuntimeError, match="GetItem: index on 'strict' for a tensor on "
                                               "'cpu': indices must be on the CPU"):
            t((4, 3), "cpu")[index]
