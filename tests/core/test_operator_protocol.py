"""Python's operator protocol on Tensors, as torch.Tensor has it.

The augmented assignments PyTorch runs in place (``**=``, ``%=``, ``//=``, ``&=``, ``|=``,
``^=``, ``<<=``, ``>>=``) write into the tensor itself: every name bound to it sees the
new values. Without ``__ipow__`` and the rest, Python falls back to ``x = x ** 2``, a new
tensor, and ``y = x; x **= 2`` left ``y`` unchanged (silently, where PyTorch changes it).
Also the reflected ``&``, ``|``, ``<<``, ``>>``, ``operator.index`` of a one-element
integer tensor, ``reversed`` and ``complex`` (``round`` stays a TypeError, as PyTorch's).
"""

import math
import operator

import numpy as np
import pytest

import tinygrad_opt as tg

IN_PLACE = {  # operator -> (the in-place one, an int64 operand, the expected values)
    "**=": (operator.ipow, 2, lambda a: a ** 2),
    "%=": (operator.imod, 3, lambda a: np.mod(a, 3)),
    "//=": (operator.ifloordiv, 2, lambda a: np.floor_divide(a, 2)),
    "&=": (operator.iand, 6, lambda a: a & 6),
    "|=": (operator.ior, 8, lambda a: a | 8),
    "^=": (operator.ixor, 5, lambda a: a ^ 5),
    "<<=": (operator.ilshift, 2, lambda a: a << 2),
    ">>=": (operator.irshift, 1, lambda a: a >> 1),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_augmented_assignment_writes_into_the_tensor(name, device):
    function, operand, expected = IN_PLACE[name]
    values = np.array([-7, 0, 5, 12])
    x = tg.tensor(values, device=device)
    alias, version = x, x._version
    result = function(x, operand)
    assert result is alias                      # the same object, as PyTorch's
    assert alias.tolist() == expected(values).tolist()
    assert alias._version == version + 1        # an in-place write: ops that saved it refuse


def test_float_augmented_assignment_and_its_gradient():
    w = tg.tensor([1.5, -2.0, 3.0], dtype=tg.float64, requires_grad=True)
    x = w * 1                                   # a non-leaf: the write is recorded
    alias = x
    x **= 3
    assert alias is x and np.allclose(alias.numpy(), [3.375, -8.0, 27.0])
    x.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 3 * np.array([1.5, -2.0, 3.0]) ** 2)
    y = tg.tensor([7.5, -7.5], dtype=tg.float64)
    y %= 2.0
    assert y.tolist() == [1.5, 0.5]             # PyTorch's remainder: the divisor's sign


def test_augmented_assignment_refuses_what_pytorch_refuses():
    leaf = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf **= 2
    ints = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints **= 0.5                            # a float result does not fit int64
    assert ints.tolist() == [1, 2]


def test_reflected_bitwise_and_shift_operators(device):
    flags = tg.tensor([True, False, True], device=device)
    assert (True & flags).tolist() == [True, False, True]
    assert (False | flags).tolist() == [True, False, True]
    counts = tg.tensor([0, 1, 3], device=device)
    assert (1 << counts).tolist() == [1, 2, 8]
    assert (64 >> counts).tolist() == [64, 32, 8]
    assert (counts << 2).tolist() == [0, 4, 12] and (counts >> 1).tolist() == [0, 0, 1]


def test_index_reversed_complex(device):
    assert [10, 20, 30][tg.tensor(1, device=device)] == 20
    assert operator.index(tg.tensor([2], device=device)) == 2
    assert list(range(10))[tg.tensor(2):tg.tensor(5)] == [2, 3, 4]
    for bad in (tg.tensor(1.0), tg.tensor([1, 2]), tg.tensor([True, False])):  # (one bool: 0/1)
        with pytest.raises(TypeError, match="index"):
            operator.index(bad)
    with pytest.raises(TypeError, match="__round__"):  # (PyTorch has no __round__ either)
        round(tg.tensor([2.5, 2.6]))
    x = tg.tensor([[1, 2], [3, 4]], device=device)
    assert reversed(x).tolist() == [[3, 4], [1, 2]]
    assert reversed(tg.tensor(5)).item() == 5
    assert complex(tg.tensor(2.5)) == 2.5 + 0j
    assert math.floor(tg.tensor(2.5)) == 2 and math.ceil(tg.tensor(2.5)) == 3


def test_split_with_sizes_method_and_threshold_of_bool(device):
    x = tg.tensor(np.arange(10.0).reshape(2, 5), device=device)
    first, second = x.split_with_sizes([2, 3], dim=1)
    assert first.tolist() == [[0.0, 1.0], [5.0, 6.0]] and second.shape == (2, 3)
    with tg.no_grad():
        second.fill_(-1.0)                       # views of x, as PyTorch's
    assert x[:, 2:].tolist() == [[-1.0] * 3] * 2
    with pytest.raises(ValueError, match="add up"):
        x.split_with_sizes([2, 2], dim=1)
    import tinygrad_opt.nn.functional as F
    with pytest.raises(RuntimeError, match="threshold: Boolean inputs are not supported"):
        F.threshold(tg.tensor([True, False], device=device), 0.5, 0.0)
    assert F.threshold(tg.tensor([0.25, 0.75], device=device), 0.5, 0.0).tolist() == [0.0, 0.75]
