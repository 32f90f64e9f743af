"""``cross_entropy``'s two paths: the common call (mean over int64 class indices of a 2-D
input, nothing else) goes straight to the fused op; every call must give what the general
path gives (``functional_loss.ENABLED = False``): the same loss and gradients bit for bit,
or the same error."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional_loss
from tinygrad_opt.ops import fused

F = nn.functional


def _outcome(call, enabled, monkeypatch):
    monkeypatch.setattr(functional_loss, "ENABLED", enabled)
    try:
        logits, loss = call()
    except Exception as error:  # noqa: BLE001 (compared)
        return type(error), str(error)
    if loss.requires_grad:
        loss.sum().backward()
    grad = None if logits.grad is None else logits.grad.numpy()
    return loss.numpy(), loss.dtype, grad


def _calls(device):
    rng = np.random.default_rng(0)

    def logits(shape, dtype="float32"):
        return tg.tensor(rng.standard_normal(shape).astype(dtype), device=device,
                         requires_grad=True)

    def classes(values, dtype="int64", on=device):
        return tg.tensor(np.array(values, dtype=dtype), device=on)
    good = [0, 2, 1, 2]
    cases = {
        "common": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes(good))),
        "float64": lambda: (x := logits((4, 3), "float64"), F.cross_entropy(x, classes(good))),
        "float16": lambda: (x := logits((4, 3), "float16"), F.cross_entropy(x, classes(good))),
        "module": lambda: (x := logits((4, 3)), nn.CrossEntropyLoss()(x, classes(good))),
        "class too big": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes([0, 3, 1, 2]))),
        "negative class": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes([0, -1, 1, 2]))),
        "ignored -100": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes([0, -100, 1, 2]))),
        "ignore_index 1": lambda: (x := logits((4, 3)),
                                   F.cross_entropy(x, classes(good), ignore_index=1)),
        "ignore_index 3": lambda: (x := logits((4, 3)),
                                   F.cross_entropy(x, classes(good), ignore_index=3)),
        "ignore_index None": lambda: (x := logits((4, 3)),
                                      F.cross_entropy(x, classes(good), ignore_index=None)),
        "int32 targets": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes(good, "int32"))),
        "uint8 targets": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes(good, "uint8"))),
        "float targets": lambda: (x := logits((4, 3)),
                                  F.cross_entropy(x, classes([0., 2., 1., 2.], "float32"))),
        "array targets": lambda: (x := logits((4, 3)), F.cross_entropy(x, np.array(good))),
        "list targets": lambda: (x := logits((4, 3)), F.cross_entropy(x, good)),
        "targets (4, 1)": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes([good]).T)),
        "targets (3,)": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes(good[:3]))),
        "empty batch": lambda: (x := logits((0, 3)), F.cross_entropy(x, classes([]))),
        "3-D input": lambda: (x := logits((4, 3, 2)),
                              F.cross_entropy(x, classes(np.zeros((4, 2), int)))),
        "1-D input": lambda: (x := logits((3,)), F.cross_entropy(x, classes(2))),
        "int input": lambda: (x := tg.tensor([[1, 2], [3, 4]], device=device),
                              F.cross_entropy(x, classes([0, 1]))),
        "sum": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes(good), reduction="sum")),
        "none": lambda: (x := logits((4, 3)), F.cross_entropy(x, classes(good), reduction="none")),
        "bad reduction": lambda: (x := logits((4, 3)),
                                  F.cross_entropy(x, classes(good), reduction="avg")),
        "weight": lambda: (x := logits((4, 3)),
                           F.cross_entropy(x, classes(good), tg.ones(3, device=device))),
        "smoothing": lambda: (x := logits((4, 3)),
                              F.cross_entropy(x, classes(good), label_smoothing=0.1)),
        "bad smoothing": lambda: (x := logits((4, 3)),
                                  F.cross_entropy(x, classes(good), label_smoothing=-0.5)),
        "size_average": lambda: (x := logits((4, 3)),
                                 F.cross_entropy(x, classes(good), size_average=False)),
        "probabilities": lambda: (x := logits((4, 3)),
                                  F.cross_entropy(x, tg.softmax(logits((4, 3)), 1).detach())),
        "inf logit": lambda: (x := tg.tensor([[np.inf, 0.0], [1.0, 2.0]], device=device,
                                             requires_grad=True),
                              F.cross_entropy(x, classes([0, 1]))),
        "nan logit": lambda: (x := tg.tensor([[np.nan, 0.0], [1.0, 2.0]], device=device,
                                             requires_grad=True),
                              F.cross_entropy(x, classes([1, 1]))),
    }
    if device == "strict":
        cases["targets on cpu"] = lambda: (x := logits((4, 3)),
                                           F.cross_entropy(x, classes(good, on="cpu")))
    return cases


def test_every_call_gives_what_the_general_path_gives(device, monkeypatch):
    for name in _calls(device):  # (each run builds its inputs anew, from the same seed)
        fast = _outcome(lambda: _calls(device)[name](), True, monkeypatch)
        general = _outcome(lambda: _calls(device)[name](), False, monkeypatch)
        assert len(fast) == len(general), (name, fast, general)
        if isinstance(fast[0], type):
            assert fast == general, name
            continue
        (value, dtype, grad), (value2, dtype2, grad2) = fast, general
        assert dtype == dtype2 and value.tobytes() == value2.tobytes(), name
        assert (grad is None) == (grad2 is None), name
        assert grad is None or grad.tobytes() == grad2.tobytes(), name


def test_the_common_call_takes_the_short_path(monkeypatch):
    # it reaches the fused op without the general path's checks (and the general path itself
    # still does, on every other call)
    general = []
    original = functional_loss._cross_entropy
    monkeypatch.setattr(functional_loss, "_cross_entropy",
                        lambda *args: general.append(args) or original(*args))
    x = tg.tensor(np.eye(3, dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor([0, 1, 2]))
    assert isinstance(loss.grad_fn, fused.CrossEntropy) and general == []
    for options in ({"reduction": "sum"}, {"label_smoothing": 0.1}, {"ignore_index": 1}):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), **options)
    assert len(general) == 3
