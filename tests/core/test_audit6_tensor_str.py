"""Tensors print as PyTorch's (torch/_tensor_str.py): each expected string below is
written by hand from PyTorch's rules (4 decimals, int mode, scientific mode, widths,
line breaks, summarization, suffixes) and its documented examples."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.tensor_str import PRINT_OPTS

NAN, INF = float("nan"), float("inf")


@pytest.fixture
def options():
    """Whatever a test sets with set_printoptions is undone after it."""
    keys = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")
    saved = {key: getattr(PRINT_OPTS, key) for key in keys}
    yield
    for key, value in saved.items():
        setattr(PRINT_OPTS, key, value)


def on(device):
    """The device suffix PyTorch adds for a tensor not on the cpu."""
    return "" if device == "cpu" else f", device='{device}'"


def test_dtype_shows_unless_default_float_int64_or_bool(device):
    d = on(device)
    assert repr(tg.tensor([1.0, 2.0], device=device)) == f"tensor([1., 2.]{d})"
    assert repr(tg.tensor([1, 2], device=device)) == f"tensor([1, 2]{d})"
    assert repr(tg.tensor([True, False], device=device)) == f"tensor([ True, False]{d})"
    assert repr(tg.tensor([1.0, 2.0], dtype=tg.float64, device=device)) == \
        f"tensor([1., 2.]{d}, dtype=float64)"
    assert repr(tg.tensor([1, -2], dtype=tg.int32, device=device)) == \
        f"tensor([ 1, -2]{d}, dtype=int32)"
    assert repr(tg.tensor([1.5], dtype=tg.float16, device=device)) == \
        f"tensor([1.5000]{d}, dtype=float16)"
    assert repr(tg.tensor([7], dtype=tg.uint8, device=device)) == f"tensor([7]{d}, dtype=uint8)"


def test_default_dtype_decides_which_float_is_silent():
    before = tg.get_default_dtype()
    try:
        tg.set_default_dtype(tg.float64)
        assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
        assert repr(tg.tensor([1.0, 2.0], dtype=tg.float32)) == "tensor([1., 2.], dtype=float32)"
        assert repr(tg.zeros(0, dtype=tg.float32)) == "tensor([], dtype=float32)"
        assert repr(tg.tensor([1.5], dtype=tg.float16)) == "tensor([1.5000], dtype=float16)"
    finally:
        tg.set_default_dtype(before)


def test_int_mode_fixed_mode_and_widths(device):
    d = on(device)
    cases = {
        (1.0, -2.0, 3.0): "tensor([ 1., -2.,  3.])",        # whole numbers: a trailing dot
        (0.0, 0.0): "tensor([0., 0.])",
        (1.0, 1000.0): "tensor([   1., 1000.])",           # a spread of exactly 1000
        (0.1, 2.5): "tensor([0.1000, 2.5000])",
        (0.1, 12.5, -3.25): "tensor([ 0.1000, 12.5000, -3.2500])",
        (0.0, 0.25): "tensor([0.0000, 0.2500])",           # zeros do not decide the style
        (-0.5,): "tensor([-0.5000])",
    }
    for values, text in cases.items():
        assert repr(tg.tensor(list(values), device=device)) == text[:-1] + d + ")"


def test_scientific_mode_when_spread_or_size_is_extreme(device):
    d = on(device)
    cases = {
        (1e-5, 1e3): "tensor([1.0000e-05, 1.0000e+03])",   # spread > 1000
        (1.0, 2000.0): "tensor([1.0000e+00, 2.0000e+03])", # int mode, spread > 1000
        (1e9,): "tensor([1.0000e+09])",                    # above 1e8
        (5e-5, 6e-5): "tensor([5.0000e-05, 6.0000e-05])",  # smallest below 1e-4
        (-1.5e-5, 0.0): "tensor([-1.5000e-05,  0.0000e+00])",
    }
    for values, text in cases.items():
        got = repr(tg.tensor(list(values), dtype=tg.float64, device=device))
        assert got == text[:-1] + d + ", dtype=float64)"


def test_nan_and_inf(device):
    d = on(device)
    assert repr(tg.tensor([NAN, 1.0, -INF], device=device)) == f"tensor([nan, 1., -inf]{d})"
    assert repr(tg.tensor([NAN, 0.25], device=device)) == f"tensor([   nan, 0.2500]{d})"
    assert repr(tg.tensor([NAN, INF], device=device)) == f"tensor([nan, inf]{d})"
    assert repr(tg.tensor(NAN, device=device)) == f"tensor(nan{d})"


def test_zero_dim_and_nested_layout(device):
    d = on(device)
    assert repr(tg.tensor(7.0, device=device)) == f"tensor(7.{d})"
    assert repr(tg.tensor(-0.5, device=device)) == f"tensor(-0.5000{d})"
    assert repr(tg.tensor(3, device=device)) == f"tensor(3{d})"
    assert repr(tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)) == \
        f"tensor([[1., 2.],\n        [3., 4.]]{d})"
    assert repr(tg.arange(12, device=device).reshape(2, 3, 2)) == (
        "tensor([[[ 0,  1],\n"
        "         [ 2,  3],\n"
        "         [ 4,  5]],\n"
        "\n"
        "        [[ 6,  7],\n"
        "         [ 8,  9],\n"
        f"         [10, 11]]]{d})")


def test_empty_tensors(device):
    d = on(device)
    assert repr(tg.zeros(0, device=device)) == f"tensor([]{d})"
    assert repr(tg.zeros(0, 3, device=device)) == f"tensor([]{d}, size=(0, 3))"
    assert repr(tg.zeros(0, dtype=tg.int64, device=device)) == f"tensor([]{d}, dtype=int64)"
    assert repr(tg.zeros(2, 0, dtype=tg.bool, device=device)) == \
        f"tensor([]{d}, size=(2, 0), dtype=bool)"
    assert repr(tg.zeros(0, dtype=tg.float64, device=device)) == \
        f"tensor([]{d}, dtype=float64)"


def test_rows_wrap_at_linewidth():
    assert repr(tg.arange(30)) == (
        "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
        "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])")
    assert repr(tg.arange(3.0).reshape(1, 3) + tg.zeros(2, 1)) == \
        "tensor([[0., 1., 2.],\n        [0., 1., 2.]])"


def test_summarized_beyond_threshold(device):
    d = on(device)
    assert repr(tg.arange(2000, device=device)) == \
        f"tensor([   0,    1,    2,  ..., 1997, 1998, 1999]{d})"
    assert repr(tg.arange(1100, device=device).reshape(110, 10)) == (
        "tensor([[   0,    1,    2,  ...,    7,    8,    9],\n"
        "        [  10,   11,   12,  ...,   17,   18,   19],\n"
        "        [  20,   21,   22,  ...,   27,   28,   29],\n"
        "        ...,\n"
        "        [1070, 1071, 1072,  ..., 1077, 1078, 1079],\n"
        "        [1080, 1081, 1082,  ..., 1087, 1088, 1089],\n"
        f"        [1090, 1091, 1092,  ..., 1097, 1098, 1099]]{d})")
    hidden = np.zeros(1001, dtype=np.float32)
    hidden[500] = 12345.5                 # not shown, so it does not set the style
    assert repr(tg.tensor(hidden, device=device)) == \
        f"tensor([0., 0., 0.,  ..., 0., 0., 0.]{d})"


def test_suffixes_in_order_and_wrapped(device):
    d = on(device)
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True, device=device)
    assert repr(x) == f"tensor([1., 2.]{d}, dtype=float64, requires_grad=True)"
    assert repr(x * 3) == f"tensor([3., 6.]{d}, dtype=float64, grad_fn=<Mul>)"
    assert repr(tg.tensor([1.0, 2.0], requires_grad=True, device=device) * 3) == \
        f"tensor([3., 6.]{d}, grad_fn=<Mul>)"
    if device == "cpu":  # a suffix that would pass 80 columns goes on its own line
        long = tg.full((7,), 0.5, dtype=tg.float64, requires_grad=True)
        assert repr(long) == ("tensor([0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, "
                              "0.5000], dtype=float64,\n       requires_grad=True)")


def test_str_print_format_and_parameter(capsys):
    x = tg.tensor([0.1, 2.5])
    assert str(x) == repr(x) == f"{x}" == "tensor([0.1000, 2.5000])"
    print(x)
    assert capsys.readouterr().out == "tensor([0.1000, 2.5000])\n"
    assert repr(tg.nn.Parameter(tg.ones(2))) == \
        "Parameter containing:\ntensor([1., 1.], requires_grad=True)"


def test_fixed_mode_entries_match_numpy_rounding(rng, device):
    values = rng.uniform(0.5, 50.0, size=4)
    values[0] += 0.01                     # never a whole number
    entries = [np.format_float_positional(v, precision=4, unique=False) for v in values]
    width = max(len(entry) for entry in entries)
    expected = "tensor([" + ", ".join(entry.rjust(width) for entry in entries) + "]"
    assert repr(tg.tensor(values, dtype=tg.float64, device=device)) == \
        expected + on(device) + ", dtype=float64)"


def test_set_printoptions_documented_examples(options):
    tg.set_printoptions(precision=2)
    assert repr(tg.tensor([1.12345])) == "tensor([1.12])"
    tg.set_printoptions(threshold=5)
    assert repr(tg.arange(10)) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    tg.set_printoptions(profile="default")
    assert repr(tg.tensor([1.12345])) == "tensor([1.1235])"
    assert repr(tg.arange(10)) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"


def test_set_printoptions_profiles_and_linewidth(options):
    tg.set_printoptions(profile="short")
    assert repr(tg.tensor([1.12345])) == "tensor([1.12])"
    assert repr(tg.arange(1001)) == "tensor([   0,    1,  ...,  999, 1000])"
    tg.set_printoptions(profile="full")
    text = repr(tg.arange(1001))
    assert "..." not in text and text.count(",") == 1000 and text.endswith(" 1000])")
    tg.set_printoptions(profile="default", linewidth=20)
    assert repr(tg.arange(10)) == "tensor([0, 1, 2, 3,\n        4, 5, 6, 7,\n        8, 9])"
    tg.set_printoptions(edgeitems=1, threshold=3, linewidth=80)
    assert repr(tg.arange(24).reshape(4, 6)) == \
        "tensor([[ 0,  ...,  5],\n        ...,\n        [18,  ..., 23]])"


def test_set_printoptions_sci_mode(options, device):
    d = on(device)
    numpy_options = np.get_printoptions()
    tg.set_printoptions(sci_mode=True)
    assert repr(tg.tensor([1.0, 2.0], device=device)) == \
        f"tensor([1.0000e+00, 2.0000e+00]{d})"
    assert repr(tg.tensor([NAN, INF], device=device)) == f"tensor([nan, inf]{d})"
    tg.set_printoptions(sci_mode=False)     # fixed, at the width scientific would take
    assert repr(tg.tensor([1e-5, 1e3], device=device)) == \
        f"tensor([    0.0000,  1000.0000]{d})"
    tg.set_printoptions()                   # every call without sci_mode: back to chosen
    assert repr(tg.tensor([1e-5, 1e3], device=device)) == \
        f"tensor([1.0000e-05, 1.0000e+03]{d})"
    assert np.get_printoptions() == numpy_options      # NumPy's own options untouched
