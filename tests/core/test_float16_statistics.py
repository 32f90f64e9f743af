"""Statistics of float16 tensors are computed in float32 and cast back, as PyTorch's CPU
kernels accumulate half-precision statistics in float.

A float16 square overflows past 256 (65,504 is the largest float16), so before this the
variance of activations of a few hundred was inf: ``var``/``std`` gave inf, ``norm`` inf,
``F.normalize`` and ``cosine_similarity`` 0, and every normalisation layer (batch, layer,
group, instance, RMS) returned all zeros, with no error. Each is checked against the same
function of the float32 tensor, rounded to float16; gradients stay float16.

FLOAT16_FUZZ_EXAMPLES raises the number of drawn examples (default 25).
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from fuzzing import examples, fuzz_settings
from tinygrad_opt import nn

SETTINGS = fuzz_settings(examples("FLOAT16_FUZZ_EXAMPLES", 25))

# name -> a function of one (N, 4) tensor
STATISTICS = {
    "mean": lambda x: x.mean(1),
    "mean all": lambda x: x.mean(),
    "var": lambda x: x.var(1),
    "var all": lambda x: tg.var(x),
    "std": lambda x: x.std(0, keepdim=True),
    "std biased": lambda x: x.std(unbiased=False),
    "var_mean": lambda x: tg.var_mean(x, 1)[0],
    "std_mean": lambda x: tg.std_mean(x, 0)[0],
    "norm": lambda x: x.norm(),
    "norm dim": lambda x: x.norm(dim=1),
    "norm p=1": lambda x: x.norm(1, dim=0),
    "tg.norm": lambda x: tg.norm(x),
    "linalg.vector_norm": lambda x: tg.linalg.vector_norm(x, dim=1),
    "normalize": lambda x: F.normalize(x),
    "cosine_similarity": lambda x: F.cosine_similarity(x, x.flip(1)),
    "pdist": lambda x: F.pdist(x),
    "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
    "layer_norm": lambda x: F.layer_norm(x, (4,)),
    "group_norm": lambda x: F.group_norm(x, 2),
    "instance_norm": lambda x: F.instance_norm(x.reshape(1, *x.shape)),
    "rms_norm": lambda x: F.rms_norm(x, (4,)),
    "LayerNorm": lambda x: nn.LayerNorm(4, dtype=x.dtype)(x),
    "BatchNorm1d": lambda x: nn.BatchNorm1d(4, dtype=x.dtype)(x),
    "GroupNorm": lambda x: nn.GroupNorm(2, 4, dtype=x.dtype)(x),
    "cumsum": lambda x: x.cumsum(1),
    "cumprod": lambda x: (x / 1000).cumprod(0),
}


def _assert_as_in_float32(function, values):
    got = function(tg.tensor(values.astype(np.float16)))
    expected = function(tg.tensor(values.astype(np.float16).astype(np.float32)))
    assert got.dtype == np.float16
    rounded = expected.numpy().astype(np.float16).astype(np.float64)
    np.testing.assert_allclose(got.numpy().astype(np.float64), rounded, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", sorted(STATISTICS))
def test_statistics_of_float16_activations_of_a_few_hundred(name):
    values = np.array([[300.0, 290.0, -300.0, 10.0], [200.0, -250.0, 50.0, 7.0],
                       [3.0, 4.0, 5.0, 6.0]])
    _assert_as_in_float32(STATISTICS[name], values)


@SETTINGS
@given(st.sampled_from(sorted(STATISTICS)), st.integers(2, 5),
       hnp.arrays(np.float64, (5, 4), elements=st.floats(-2000, 2000)))
def test_fuzz_statistics_of_float16(name, rows, values):
    # A zero row is left out: eps = 1e-8 or 1e-12 (cosine_similarity, normalize) is 0 in
    # float16, so such a row is 0 / 0 there, which the float32 reference does not see.
    assume(np.abs(values[:rows]).sum(axis=1).min() > 1e-3)
    _assert_as_in_float32(STATISTICS[name], values[:rows])


def test_float16_gradients_and_running_statistics_stay_float16():
    x = tg.tensor(np.array([[300.0, 290.0, -300.0, 10.0], [200.0, -250.0, 50.0, 7.0]],
                           np.float16), requires_grad=True)
    layer = nn.LayerNorm(4, dtype=tg.float16)
    (layer(x) * tg.tensor(np.arange(4.0), dtype=tg.float16)).sum().backward()
    assert x.grad.dtype == np.float16 and layer.weight.grad.dtype == np.float16
    assert np.isfinite(x.grad.numpy()).all() and np.abs(x.grad.numpy()).max() > 0
    batch = nn.BatchNorm1d(4, dtype=tg.float16)
    batch(x.detach())
    assert batch.running_var.dtype == np.float16 and batch.running_mean.dtype == np.float16
    # running_var ← 0.9 · 1 + 0.1 · unbiased variance (in float32, then stored as float16)
    unbiased = x.detach().numpy().astype(np.float32).var(0, ddof=1)
    np.testing.assert_allclose(batch.running_var.numpy(), (0.9 + 0.1 * unbiased).astype(np.float16),
                               rtol=1e-3)
    assert x.std().dtype == np.float16 and np.isfinite(x.std().item())


def test_a_float16_running_sum_is_accumulated_in_float32(device):
    """In float16, 256 + 0.1 rounds back to 256 (the spacing there is 0.25)."""
    x = tg.tensor(np.full(5000, 0.1, np.float16), requires_grad=True, device=device)
    running = x.cumsum(0)
    assert running.dtype == np.float16
    assert running[-1].item() == pytest.approx(500, rel=1e-3)
    running.sum().backward()  # dL/dx_j = 5000 − j: the backward is a running sum too
    np.testing.assert_allclose(x.grad.numpy()[[0, 2500, 4999]], [5000, 2500, 1], rtol=1e-3)
    assert tg.tensor(np.full(3000, 0.1, np.float16), device=device).sum().item() == \
        pytest.approx(300, rel=1e-3)


def test_a_float16_mean_whose_sum_overflows_float16_is_still_the_mean():
    """PyTorch sums float16 in float32: 40,000 twos add up past 65,504 but average 2."""
    twos = tg.full((40000,), 2.0, dtype=tg.float16, requires_grad=True)
    mean = twos.mean()
    assert mean.dtype == np.float16 and mean.item() == 2.0
    mean.backward()
    assert twos.grad.dtype == np.float16
    np.testing.assert_array_equal(twos.grad.numpy(), np.float16(1 / 40000))
