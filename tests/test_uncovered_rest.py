"""Lines the rest of the suite left unexecuted in the optimizers (Newton, coordinate descent,
SWA, schedulers), einsum's contractions, decompositions, losses, layers, lazy modules,
initialisers, the plotting helpers, ``tg.lobpcg``, and the command line (``tinygrad-opt``
called in this process through ``tinygrad_opt.cli.main(argv)``, with tiny settings).

Each test checks what a PyTorch user (or a user of the CLI, as its ``--help`` and docs/
describe it) expects there: the exception type and a message naming what was wrong, or
values and gradients computed here independently (NumPy, closed forms). One found a bug,
fixed with it: lu_unpack's message for pivots of a float dtype named their shape, not the
dtype that was wrong.
"""

import io
import json
import math
import os
import re
import runpy
import sys
import types

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import diagnostics, nn, optim, viz
from tinygrad_opt.cli import args as cli_args
from tinygrad_opt.cli import main
from tinygrad_opt.cli import train as cli_train
from tinygrad_opt.cli import tune as cli_tune
from tinygrad_opt.cli import vanishing as cli_vanishing
from tinygrad_opt.nn.lazy import LazyModuleMixin, UninitializedParameter
from tinygrad_opt.optim import lr_scheduler as L
from tinygrad_opt.optim.swa_utils import AveragedModel, update_bn
from tinygrad_opt.serialization import save
from test_cli_errors import assert_one_line_error, run_main  # (tests/ is on the path)


def as_tensor(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


# ===================================================================== Newton

def test_newton_closure_must_return_a_scalar_tensor_that_depends_on_the_parameters():
    w = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    newton = optim.Newton([w])
    with pytest.raises(RuntimeError, match="needs a closure"):
        newton.step(None)
    with pytest.raises(TypeError, match="loss as a Tensor, got float"):
        newton.step(lambda: 3.0)
    with pytest.raises(RuntimeError, match=r"scalar loss, got shape \(2,\)"):
        newton.step(lambda: w * w)
    with pytest.raises(RuntimeError, match="does not depend on any parameter"):
        newton.step(lambda: (w * w).sum().detach())
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])          # nothing moved


def test_newton_closure_that_frees_the_graph_itself():
    """keep_graph() keeps loss.backward()'s graph, not tg.grad's without retain_graph."""
    w = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)

    def closure():
        loss = (w ** 3).sum()
        tg.grad(loss, [w])
        return loss

    with pytest.raises(RuntimeError, match="freed the loss's graph.*tg.grad without retain_graph") \
            as error:
        optim.Newton([w]).step(closure)
    assert "called loss.backward()" not in str(error.value)  # it did not: tg.grad freed it
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_newton_refuses_parameter_groups_and_mixed_devices(device):
    first = tg.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Newton([{"params": [first]}, {"params": [tg.ones(2, requires_grad=True)]}])
    if device != "cpu":
        other = tg.ones(2, requires_grad=True, device=device)
        with pytest.raises(ValueError, match="one device"):
            optim.Newton([first, other])


def test_newton_passes_on_errors_other_than_a_singular_hessian():
    """NumPy's linalg has no float16: its TypeError reaches the caller unchanged."""
    w = tg.tensor(np.ones(2, dtype=np.float16), requires_grad=True)
    newton = optim.Newton([w])
    with pytest.raises(TypeError, match="float16"):
        newton.step(lambda: (w * w).sum())


# ===================================================================== coordinate descent

def test_coordinate_descent_skips_tensors_without_grad_and_matches_gauss_seidel(rng):
    X = rng.standard_normal((8, 3))
    y = rng.standard_normal(8)
    w = tg.tensor(np.zeros(3), requires_grad=True)
    frozen = tg.tensor(np.array([5.0, -5.0]))                     # requires_grad=False
    optimizer = optim.CoordinateDescent([w, frozen])
    X_t, y_t = tg.tensor(X), tg.tensor(y)
    optimizer.step(lambda: ((X_t @ w - y_t) ** 2).sum() / 2)
    expected = np.zeros(3)                                        # one Gauss-Seidel sweep
    for j in range(3):
        residual = X @ expected - y
        expected[j] -= X[:, j] @ residual / (X[:, j] @ X[:, j])
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-10)
    np.testing.assert_array_equal(frozen.numpy(), [5.0, -5.0])
    assert frozen not in optimizer.state or "step" not in optimizer.state[frozen]


def test_coordinate_descent_on_a_parameter_the_loss_ignores_names_it():
    unused = tg.tensor(np.array([1.0]), requires_grad=True)
    used = tg.tensor(np.array([2.0]), requires_grad=True)
    optimizer = optim.CoordinateDescent([unused, used])
    with pytest.raises(RuntimeError, match=r"= 0\.0 ≤ 0 at element 0 of parameter 0"):
        optimizer.step(lambda: (used ** 2).sum())


# ===================================================================== einsum and its users

def test_einsum_ellipsis_that_needs_more_letters_than_are_left():
    many = tg.ones(*(1,) * 30)                                    # '...' covers 30 dims
    other = tg.ones(*(1,) * 25)                                   # uses 25 of the 52 letters
    with pytest.raises(ValueError, match=r"too many dims for '\.\.\.': only 27 letters left"):
        tg.einsum("...,abcdefghijklmnopqrstuvwxy->...", many, other)


def test_tensordot_dims_must_be_an_int_or_two_matching_lists(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    with pytest.raises(TypeError, match="int or a pair of lists, got 'x'"):
        tg.tensordot(as_tensor(a), as_tensor(b), dims="x")
    with pytest.raises(ValueError, match="name 2 axes of a but 1 of b"):
        tg.tensordot(as_tensor(a), as_tensor(b), dims=([1, 0], [0]))
    np.testing.assert_allclose(tg.tensordot(as_tensor(a), as_tensor(b), dims=([1], [0])).numpy(),
                               a @ b)


def test_contractions_beyond_the_52_einsum_letters_are_refused_clearly():
    with pytest.raises(ValueError, match="27 \\+ 26 dims are more than einsum can name"):
        tg.tensordot(tg.ones(*(1,) * 27), tg.ones(*(1,) * 26), dims=0)
    with pytest.raises(ValueError, match="kron: 27 dims"):
        tg.kron(tg.ones(*(1,) * 27), tg.ones(2))
    with pytest.raises(ValueError, match="at most 51 matrices, got 52"):
        tg.chain_matmul(*[tg.ones(1, 1)] * 52)


def test_chain_matmul_needs_matrices(rng):
    with pytest.raises(ValueError, match="one matrix or more, got none"):
        tg.chain_matmul()
    with pytest.raises(ValueError, match=r"matrix 1 must be 2-D, got shape \(2,\)"):
        tg.chain_matmul(tg.ones(2, 2), tg.ones(2))
    a, b, c = (rng.standard_normal(shape) for shape in [(2, 3), (3, 4), (4, 2)])
    np.testing.assert_allclose(tg.chain_matmul(as_tensor(a), as_tensor(b), as_tensor(c)).numpy(),
                               a @ b @ c, rtol=1e-12)


# ===================================================================== decompositions, histogramdd

def test_ormqr_needs_matrices_with_the_same_batch_dims():
    with pytest.raises(ValueError, match=r"same batch dims, got input \(3, 2\) and other \(3,\)"):
        tg.ormqr(tg.ones(3, 2), tg.ones(2), tg.ones(3))
    with pytest.raises(ValueError, match=r"input \(2, 3, 2\) and other \(3, 3\)"):
        tg.ormqr(tg.ones(2, 3, 2), tg.ones(2), tg.ones(3, 3))


def test_histogramdd_of_nan_or_inf_points_without_a_range():
    with pytest.raises(ValueError, match="histogramdd: .*not finite"):
        tg.histogramdd(tg.tensor([[0.0, math.nan], [1.0, 1.0]]), bins=2)
    with pytest.raises(ValueError, match="histogramdd: .*inf.*not finite"):
        tg.histogramdd(tg.tensor([[0.0, math.inf], [1.0, 1.0]]), bins=2)


def test_histogramdd_bins_and_ranges_are_checked(device):
    points = tg.tensor([[0.0, 1.0], [1.0, 1.0]], device=device)
    with pytest.raises(ValueError, match="at least 2 edges"):           # one edge
        tg.histogramdd(points, bins=[tg.tensor([0.0], device=device),
                                     tg.tensor([0.0, 1.0], device=device)])
    with pytest.raises(ValueError, match="ints > 0 or 1-D tensors"):      # ints mixed with edges
        tg.histogramdd(points, bins=[2, tg.tensor([0.0, 1.0], device=device)])
    with pytest.raises(ValueError, match="finite with min <= max"):
        tg.histogramdd(points, bins=2, range=[0.0, 1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="finite with min <= max"):
        tg.histogramdd(points, bins=2, range=[0.0, math.inf, 0.0, 1.0])


# ===================================================================== lu_unpack, map_, logit, out=

def test_lu_unpack_pivots_of_the_wrong_shape_or_type():
    LU, pivots = tg.linalg.lu_factor(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(ValueError, match=r"LU_pivots must be an integer Tensor of shape \(2,\), "
                                         r"got a int32 Tensor of shape \(1,\)"):
        tg.lu_unpack(LU, pivots[:1])
    with pytest.raises(ValueError, match="got list"):
        tg.lu_unpack(LU, [1, 2])


def test_lu_unpack_float_pivots_error_names_the_dtype():
    LU, pivots = tg.linalg.lu_factor(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(ValueError, match="float32"):
        tg.lu_unpack(LU, pivots.float())


def test_map_is_for_cpu_tensors_only(device):
    x = tg.tensor(np.array([1.0, 2.0]), device=device)
    if device == "cpu":
        x.map_(tg.tensor(np.array([10.0, 20.0])), lambda a, b: a * b + 1)
        np.testing.assert_array_equal(x.numpy(), [11.0, 41.0])
    else:
        with pytest.raises(RuntimeError, match=f"only for CPU tensors, this one is on '{device}'"):
            x.map_(tg.tensor(np.array([10.0, 20.0]), device=device), lambda a, b: a * b)


@pytest.mark.parametrize("eps", ["0.1", True, [0.1]])
def test_logit_eps_must_be_a_number(eps):
    with pytest.raises(TypeError, match="logit: eps must be a number or None"):
        tg.logit(tg.tensor([0.5]), eps=eps)


def test_out_must_be_a_tensor_or_a_tuple_of_them():
    with pytest.raises(TypeError, match=r"sort\(\): out must be a tuple of 2 Tensors"):
        tg.sort(tg.tensor([3.0, 1.0]), out=tg.empty(2))
    with pytest.raises(TypeError, match=r"exp\(\): out must be a Tensor, got list"):
        tg.exp(tg.tensor([3.0, 1.0]), out=[1])


def test_grid_sampler_enums_map_to_grid_sample_modes(rng):
    x = as_tensor(rng.standard_normal((1, 2, 3, 4)).astype(np.float32))
    grid = as_tensor(rng.uniform(-1.2, 1.2, (1, 2, 5, 2)).astype(np.float32))
    np.testing.assert_array_equal(
        tg.grid_sampler(x, grid, 1, 1, True).numpy(),
        F.grid_sample(x, grid, "nearest", "border", True).numpy())
    with pytest.raises(ValueError, match="must be 0, 1 or 2, got 3 and 0"):
        tg.grid_sampler(x, grid, 3, 0, False)
    with pytest.raises(ValueError, match="got 0 and -1"):
        tg.grid_sampler(x, grid, 0, -1, False)


# ===================================================================== losses and layers

@pytest.mark.parametrize("module, text", [
    (lambda: nn.SmoothL1Loss(beta=0.5), "beta=0.5"),
    (lambda: nn.NLLLoss(ignore_index=3), "ignore_index=3"),
    (lambda: nn.MultiMarginLoss(p=2, margin=0.5), "p=2, margin=0.5"),
    (lambda: nn.HingeLoss(margin=2.0), "margin=2.0"),
    (lambda: nn.FocalLoss(gamma=3.0), "gamma=3.0"),
    (lambda: nn.Softplus(beta=2, threshold=10), "beta=2, threshold=10"),
    (lambda: nn.LogSoftmax(dim=1), "dim=1"),
    (lambda: nn.MultiheadAttention(4, 2), "embed_dim=4, num_heads=2"),
])
def test_reprs_show_the_options(module, text):
    assert text in repr(module())


def test_smooth_l1_beta_and_rrelu_bounds_are_checked():
    with pytest.raises(ValueError, match="beta must be non-negative, got -1"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="lower <= upper, got lower=0.5, upper=0.1"):
        nn.RReLU(0.5, 0.1)


def test_triplet_and_multilabel_losses_refuse_scalars():
    one, two = tg.tensor(1.0), tg.tensor(2.0)
    with pytest.raises(ValueError, match="triplet_margin_loss: .*got scalars"):
        F.triplet_margin_loss(one, one, two)
    with pytest.raises(ValueError, match="triplet_margin_with_distance_loss: .*got scalars"):
        F.triplet_margin_with_distance_loss(one, one, two)
    with pytest.raises(ValueError, match="multilabel_soft_margin_loss: input must be .*scalar"):
        F.multilabel_soft_margin_loss(one, one)


def test_conv_transpose3d_groups_and_bias_are_checked():
    x = tg.ones(1, 3, 2, 2, 2)
    for groups, says in ((2, "dividing the 3 input channels"), (0, "a positive integer")):
        with pytest.raises(ValueError, match=f"{says}.*got {groups}"):
            F.conv_transpose3d(x, tg.ones(3, 1, 1, 1, 1), groups=groups)
    with pytest.raises(ValueError, match=r"bias of shape \(3,\) does not match the 1 out"):
        F.conv_transpose3d(tg.ones(1, 2, 2, 2, 2), tg.ones(2, 1, 1, 1, 1), bias=tg.ones(3))


def test_orthogonal_of_an_empty_tensor_and_dirac_groups():
    empty = tg.empty(0, 3)
    assert nn.init.orthogonal_(empty) is empty
    with pytest.raises(ValueError, match="divisible by groups: 3 and groups=2"):
        nn.init.dirac_(tg.empty(3, 2, 3), groups=2)


def test_rnn_cell_base_subclass_checks():
    class MyCell(nn.RNNCellBase):
        pass

    assert issubclass(MyCell, MyCell)
    assert issubclass(MyCell, nn.RNNCellBase)
    assert not issubclass(nn.LSTMCell, MyCell)
    assert issubclass(nn.LSTMCell, nn.RNNCellBase)


def test_transformer_uses_a_custom_encoder_and_decoder(rng):
    calls = {}

    class Encoder(nn.Module):
        def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
            calls["encoder"] = (mask, is_causal)
            return src * 2

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Linear(1, 1, bias=False)

        def forward(self, tgt, memory, **masks):
            calls["decoder"] = sorted(masks)
            return tgt + memory

    encoder, decoder = Encoder(), Decoder()
    model = nn.Transformer(d_model=4, nhead=2, custom_encoder=encoder, custom_decoder=decoder)
    assert model.encoder is encoder and model.decoder is decoder
    assert any(p is decoder.scale.weight for p in model.parameters())
    src = rng.standard_normal((3, 2, 4)).astype(np.float32)
    tgt = rng.standard_normal((3, 2, 4)).astype(np.float32)
    out = model(as_tensor(src), as_tensor(tgt))
    np.testing.assert_allclose(out.numpy(), tgt + 2 * src, rtol=1e-6)
    assert "memory_mask" in calls["decoder"] and "tgt_mask" in calls["decoder"]


# ===================================================================== lazy modules

class LazyScale(LazyModuleMixin, nn.Module):
    """A lazy module with no cls_to_become: it stays a LazyScale after its first call."""

    def __init__(self):
        super().__init__()
        self.weight = UninitializedParameter()
        self.initialisations = 0

    def initialize_parameters(self, x):
        self.initialisations += 1
        self.weight.materialize(x.shape[-1])
        with tg.no_grad():
            self.weight.fill_(2.0)

    def forward(self, x):
        return x * self.weight


def test_lazy_module_without_cls_to_become_initialises_once(rng):
    module = LazyScale()
    x = rng.standard_normal((2, 3)).astype(np.float32)
    module(as_tensor(x))
    out = module(as_tensor(x))
    assert type(module) is LazyScale and module.initialisations == 1
    np.testing.assert_allclose(out.numpy(), 2 * x)
    out.sum().backward()
    np.testing.assert_allclose(module.weight.grad.numpy(), x.sum(axis=0), rtol=1e-6)


def test_lazy_module_that_does_not_initialise_everything():
    class Incomplete(LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = UninitializedParameter()

        def initialize_parameters(self, x):
            pass

    class NoInitialiser(LazyModuleMixin, nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(RuntimeError, match="module Incomplete has not been fully initialized"):
        Incomplete()(tg.ones(2))
    with pytest.raises(NotImplementedError, match="not implemented for NoInitialiser"):
        NoInitialiser()(tg.ones(2))


def test_uninitialized_tensors_repr_as_pytorch():
    assert repr(nn.LazyLinear(3).weight) == "<UninitializedParameter>"
    assert repr(nn.LazyBatchNorm1d().running_mean) == "<UninitializedBuffer>"


# ===================================================================== SWA

def test_averaged_model_refuses_a_model_of_other_shapes():
    averaged = AveragedModel(nn.Linear(2, 3))
    with pytest.raises(ValueError, match=r"tensor 0 has shape \(2, 3\) in the model but "
                                         r"\(3, 2\) in the averaged copy"):
        averaged.update_parameters(nn.Linear(3, 2))


def test_averaged_model_repr_counts_the_models():
    model = nn.Linear(2, 3)
    ema = AveragedModel(model, mode="ema", decay=0.9)
    assert "mode='ema', decay=0.9, n_averaged=0" in repr(ema)
    ema.update_parameters(model)
    assert "n_averaged=1" in repr(ema)
    assert "decay" not in repr(AveragedModel(model))


def test_update_bn_moves_tensor_batches_to_the_given_device(device, rng):
    model = nn.Sequential(nn.BatchNorm1d(3))                      # on 'cpu'
    batches = [rng.standard_normal((4, 3)) for _ in range(3)]
    loader = [(as_tensor(batch, device=device), 0) for batch in batches]
    update_bn(loader, model, device="cpu")
    bn = model[0]
    np.testing.assert_allclose(bn.running_mean.numpy(),
                               np.mean([batch.mean(axis=0) for batch in batches], axis=0),
                               rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               np.mean([batch.var(axis=0, ddof=1) for batch in batches], axis=0),
                               rtol=1e-5)
    assert bn.momentum == 0.1                                     # restored


# ===================================================================== lobpcg

def test_lobpcg_from_exact_eigenvectors_stops_with_no_new_directions():
    """X₀ already spans eigenvectors: the residual is 0 and the step has nothing to add."""
    A = tg.tensor(np.diag(np.arange(1.0, 7.0)))
    X = tg.tensor(np.eye(6)[:, 4:].copy())
    E, V = tg.lobpcg(A, k=2, X=X, niter=3, tol=0.0)
    np.testing.assert_allclose(E.numpy(), [6.0, 5.0])
    np.testing.assert_allclose(np.abs(V.numpy()), np.eye(6)[:, [5, 4]], atol=1e-12)


def test_lobpcg_refuses_integer_matrices():
    with pytest.raises(TypeError, match="A must be float32 or float64, got int64"):
        tg.lobpcg(tg.tensor(np.eye(6, dtype=np.int64)), k=1)


# ===================================================================== schedulers

def sgd(lr=0.1):
    return optim.SGD([tg.ones(2, requires_grad=True)], lr=lr)


def test_a_scheduler_without_get_lr_says_so():
    class NoRule(L.LRScheduler):
        pass

    with pytest.raises(NotImplementedError, match="NoRule must implement get_lr"):
        NoRule(sgd())


def test_scheduler_reprs():
    optimizer = sgd()
    assert repr(L.StepLR(optimizer, 2)) == "StepLR(last_epoch=0, last_lr=[0.1])"
    chained = L.ChainedScheduler([L.StepLR(optimizer, 2), L.ExponentialLR(optimizer, 0.5)])
    assert repr(chained) == "ChainedScheduler([StepLR, ExponentialLR], last_lr=[0.1])"
    plateau = L.ReduceLROnPlateau(optimizer, patience=2)
    assert "patience=2" in repr(plateau) and "num_bad_epochs=0" in repr(plateau)


def test_sequential_and_plateau_argument_errors():
    optimizer = sgd()
    with pytest.raises(ValueError, match="at least one scheduler"):
        L.SequentialLR(optimizer, [], [])
    with pytest.raises(TypeError, match="index 0 should have `optimizer`"):
        L.SequentialLR(optimizer, [object()], [])
    with pytest.raises(TypeError, match="object is not an Optimizer"):
        L.ReduceLROnPlateau(object())


def test_plateau_after_a_param_group_is_added():
    """PyTorch: a number min_lr extends to the new group; a list min_lr is an error."""
    optimizer = sgd(lr=1.0)
    scheduler = L.ReduceLROnPlateau(optimizer, factor=0.5, patience=0, min_lr=0.3)
    scheduler.step(1.0)
    optimizer.add_param_group({"params": [tg.ones(1, requires_grad=True)], "lr": 0.4})
    scheduler.step(2.0)                                            # worse: reduce
    assert [group["lr"] for group in optimizer.param_groups] == [0.5, 0.3]   # 0.2 floored
    assert scheduler.get_lr() == [0.5, 0.3]

    optimizer = sgd(lr=1.0)
    scheduler = L.ReduceLROnPlateau(optimizer, factor=0.5, patience=0, min_lr=[0.3])
    scheduler.step(1.0)
    optimizer.add_param_group({"params": [tg.ones(1, requires_grad=True)], "lr": 0.4})
    with pytest.raises(RuntimeError, match="2 param groups but min_lr was given for 1"):
        scheduler.step(2.0)


# ===================================================================== small reprs and plots

def test_generator_and_monitor_reprs():
    generator = tg.Generator()
    generator.manual_seed(5)
    assert repr(generator) == "Generator(device='cpu', initial_seed=5)"
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2), nn.ReLU())
    monitor = diagnostics.Monitor(model)
    assert repr(monitor) == "Monitor(2 weights, 2 activations, 0 steps, enabled=True)"
    model(tg.ones(1, 2)).sum().backward()
    monitor.record()
    assert "1 steps" in repr(monitor)


def test_plot_lr_range_test_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setattr(viz, "matplotlib_available", lambda: False)
    with pytest.raises(RuntimeError) as raised:
        diagnostics.plot_lr_range_test([1e-3, 1e-2], [1.0, 0.5], 1e-3, str(tmp_path / "a.png"))
    assert str(raised.value) == viz.PLOT_HINT
    assert not (tmp_path / "a.png").exists()


def test_plot_helpers_name_what_is_wrong(figures, tmp_path):
    path = str(tmp_path / "plot.png")
    with pytest.raises(ValueError, match="1 names for the 2 layers"):
        viz.plot_grad_norms(np.ones((3, 2)), path, names=["a"])
    with pytest.raises(ValueError, match="the bar 'b' is not one number"):
        viz.plot_bars({"a": 1, "b": [1, 2]}, path, ylabel="loss")
    with pytest.raises(ValueError, match="values is empty"):
        viz.plot_histograms({}, path, xlabel="weight")

    def bowl(p):
        return p[0] ** 2 + p[1] ** 2

    with pytest.raises(ValueError, match="pass bounds="):
        viz.plot_trajectories(bowl, {"sgd": np.zeros((3, 2))}, path)
    with pytest.raises(ValueError, match=r"the points of 'sgd' have shape \(3, 3\)"):
        viz.plot_trajectories(bowl, {"sgd": np.zeros((3, 3))}, path, bounds=((-1, 1), (-1, 1)),
                              resolution=10)
    with pytest.raises(ValueError, match="3 labels y for 4 points X"):
        viz.plot_decision_boundary(nn.Linear(2, 2), np.zeros((4, 2)), np.zeros(3), path)
    assert not os.path.exists(path)


# ===================================================================== the command line: helpers

QUICK = ["--data", "xor", "--epochs", "1", "--hidden", "4", "--no-progress"]


# ===================================================================== CLI: flag values and paths

@pytest.mark.parametrize("flags, named", [
    (["--lr", "fast"], ["--lr", "expected a number, got 'fast'"]),
    (["--lr", "inf"], ["--lr", "expected a finite number, got 'inf'"]),
    (["--lr", "0"], ["--lr", "expected a positive number, got '0'"]),
    (["--weight-decay", "-1"], ["--weight-decay", "expected a number >= 0"]),
    (["--optimizer", "sgd", "--momentum", "1"], ["--momentum", "momentum in [0, 1)"]),
    (["--dropout", "1"], ["--dropout", "probability in [0, 1)"]),
    (["--hidden", "8,0"], ["--hidden", "positive layer widths"]),
    (["--val-fraction", "0.8"], ["--val-fraction", "fraction in [0, 0.8)"]),
])
def test_train_flag_values_are_one_line_errors(capsys, flags, named):
    status, out, err = run_main(capsys, ["train", *QUICK, *flags])
    assert_one_line_error(status, err, *named, "(see tinygrad-opt train --help)")
    assert "epoch" not in out


def test_save_paths_that_cannot_be_written(capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [(str(tmp_path), "is a directory, expected a file path"),
             (str(a_file / "model.ckpt"), "is a file, not a directory"),
             (str(tmp_path / "missing" / "model.ckpt"), "does not exist"),
             (str(a_file), "the file exists; add --overwrite")]
    for path, named in cases:
        status, out, err = run_main(capsys, ["train", *QUICK, "--save", path])
        assert_one_line_error(status, err, "--save", named)
        assert "epoch" not in out
    assert a_file.read_text() == "x"


def test_plot_directories_that_cannot_be_made(capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for path, named in [(str(a_file), "exists and is not a directory"),
                        (str(a_file / "sub" / "dir"), f"is under the file {a_file}")]:
        status, out, err = run_main(capsys, ["train", *QUICK, "--plot", path])
        assert_one_line_error(status, err, "--plot", named)


def test_unwritable_directories_are_refused(monkeypatch, tmp_path):
    """(As root every directory is writable: os.access is made to say no.)"""
    monkeypatch.setattr(cli_args.os, "access", lambda path, mode: False)
    with pytest.raises(cli_args.UsageError, match="is not writable"):
        cli_args.check_writable_file(str(tmp_path / "model.ckpt"), "--save")
    with pytest.raises(cli_args.UsageError, match=f"directory {tmp_path} is not writable"):
        cli_args.check_creatable_directory(str(tmp_path / "new"), "--plot")


def test_lr_find_plot_without_matplotlib_prints_the_hint_and_runs(capsys, monkeypatch, tmp_path):
    find_spec = cli_args.importlib.util.find_spec
    monkeypatch.setattr(cli_args.importlib.util, "find_spec",
                        lambda name, *rest: None if name == "matplotlib" else
                        find_spec(name, *rest))
    status, out, err = run_main(capsys, ["lr-find", "--data", "xor", "--hidden", "4",
                                         "--steps", "3", "--plot", str(tmp_path / "plots")])
    assert status == 0, err
    assert viz.PLOT_HINT in err
    assert "suggested learning rate" in out
    assert not (tmp_path / "plots" / "lr_find.png").exists()


def test_lr_find_needs_two_steps(capsys):
    status, out, err = run_main(capsys, ["lr-find", "--steps", "1"])
    assert_one_line_error(status, err, "--steps must be at least 2, got 1")


# ===================================================================== CLI: train's combinations

@pytest.mark.parametrize("flags, named", [
    (["--load", "x.ckpt", "--epochs", "3", "--data", "moons"],
     ["--load", "cannot be combined with --data, --epochs"]),
    (["--model", "cnn", "--hidden", "8", "--dropout", "0.1"],
     ["--model cnn has a fixed architecture", "--dropout, --hidden apply to the mlp"]),
    (["--overwrite"], ["--overwrite applies to --save"]),
    (["--model", "cnn", "--data", "moons", "--epochs", "1"], ["--model cnn needs --data digits"]),
    (QUICK + ["--momentum", "0.5"], ["--momentum applies to sgd and rmsprop, not adam"]),
    (QUICK + ["--optimizer", "rprop", "--weight-decay", "0.1"],
     ["--weight-decay does not apply to rprop"]),
])
def test_train_flag_combinations_that_are_refused(capsys, flags, named):
    status, out, err = run_main(capsys, ["train", *flags])
    assert_one_line_error(status, err, *named)
    assert "epoch 1/" not in out


def test_train_save_plot_then_load_gives_the_same_test_accuracy(capsys, tmp_path):
    checkpoint, plots = str(tmp_path / "m.ckpt"), str(tmp_path / "plots")
    status, out, err = run_main(capsys, [
        "train", "--data", "xor", "--epochs", "2", "--hidden", "6,4", "--batchnorm",
        "--dropout", "0.1", "--activation", "tanh", "--optimizer", "sgd", "--momentum", "0.5",
        "--weight-decay", "1e-4", "--schedule", "step", "--val-fraction", "0.25",
        "--no-progress", "--save", checkpoint, "--plot", plots])
    assert status == 0, err
    assert "xor: 330 train, 150 val, 120 test | MLP 2-6-4-2 (tanh) | sgd lr 0.05" in out
    assert "epoch 1/2" in out and "epoch 2/2" in out
    assert f"saved checkpoint to {checkpoint}" in out
    assert sorted(os.listdir(plots)) == ["accuracy.png", "loss.png", "lr.png"]
    for name in os.listdir(plots):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    accuracy = re.search(r"test accuracy: (\d\.\d{4})", out).group(1)

    saved = tg.load(checkpoint)
    assert saved["config"]["hidden"] == [6, 4] and saved["config"]["momentum"] == 0.5
    assert saved["config"]["weight_decay"] == 1e-4 and saved["config"]["schedule"] == "step"
    assert saved["optimizer"]["param_groups"][0]["momentum"] == 0.5
    assert saved["optimizer"]["param_groups"][0]["weight_decay"] == 1e-4

    status, out, err = run_main(capsys, ["train", "--load", checkpoint])
    assert status == 0, err
    assert f"test accuracy: {accuracy}" in out


def test_train_early_stopping_stops_patience_epochs_after_the_best(capsys):
    status, out, err = run_main(capsys, ["train", "--data", "xor", "--epochs", "8", "--hidden",
                                         "8", "--optimizer", "sgd", "--lr", "1", "--patience",
                                         "1", "--no-progress"])
    assert status == 0, err
    val_losses = [float(v) for v in re.findall(r"val_loss (\S+)", out)]
    best = int(np.argmin(val_losses)) + 1
    stopped = re.search(r"early stopping after epoch (\d+); best epoch (\d+)", out)
    assert stopped is not None, out
    assert (int(stopped.group(1)), int(stopped.group(2))) == (best + 1, best)
    assert len(val_losses) == best + 1 < 8


def test_train_distributed_as_a_job_of_one(capsys):
    status, out, err = run_main(capsys, ["train", *QUICK, "--distributed"])
    assert status == 0, err
    assert "distributed: 1 process (MPI), batch 32 per process, 32 per step" in out
    assert "test accuracy" in out


def test_start_distributed_silences_the_other_ranks(monkeypatch):
    from tinygrad_opt import distributed
    arguments = types.SimpleNamespace(batch_size=16)
    shown = io.StringIO()
    monkeypatch.setattr(sys, "stdout", shown)
    monkeypatch.setattr(distributed, "init", lambda: (0, 3))
    assert cli_train._start_distributed(arguments) is True
    assert "3 processes (MPI), batch 16 per process, 48 per step" in shown.getvalue()
    monkeypatch.setattr(distributed, "init", lambda: (2, 3))
    assert cli_train._start_distributed(arguments) is False
    assert sys.stdout is not shown and sys.stdout.name == os.devnull
    sys.stdout.close()
    assert shown.getvalue().count("distributed:") == 1           # rank 2 printed nowhere


def test_train_helpers_data_models_optimizers():
    X, y, classes = cli_train.load_data("spiral")
    assert X.shape == (600, 2) and classes == 3 and set(np.unique(y)) == {0, 1, 2}
    X, y, classes = cli_train.load_data("xor")
    assert X.shape == (600, 2) and classes == 2 and set(np.unique(y)) == {0, 1}
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        cli_train.build_mlp(2, (4,), 2, "swish")
    cnn = cli_train.build_model({"model": "cnn", "num_classes": 10})
    assert type(cnn).__name__ == "DigitsCNN" and cnn(tg.ones(3, 64)).shape == (3, 10)
    adam = cli_train.build_optimizer("adam", [tg.ones(2, requires_grad=True)], weight_decay=0.25)
    assert adam.param_groups[0]["weight_decay"] == 0.25


def test_train_prepare_data_without_validation_and_sharded():
    loaders, sizes, features, classes, _, _ = cli_train.prepare_data("xor", 0.0, "cpu", 32, 0)
    assert loaders["val"] is None and sizes == {"train": 480, "val": 0, "test": 120}
    loaders, sizes, _, _, _, _ = cli_train.prepare_data("xor", 0.2, "cpu", 32, 0,
                                                        distributed=True)
    from tinygrad_opt.distributed import DistributedSampler
    assert isinstance(loaders["train"].sampler, DistributedSampler)
    assert sum(len(batch[1]) for batch in loaders["train"]) == sizes["train"] == 360


@pytest.mark.parametrize("name, expected", [
    ("none", None),
    ("step", [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01]),          # x0.1 every 9 // 3 epochs
    ("exponential", [0.95 ** t for t in range(7)]),
    ("inverse-time", [1 / (1 + 0.1 * t) for t in range(7)]),
    ("cosine", [(1 + math.cos(math.pi * t / 9)) / 2 for t in range(7)]),
])
def test_train_schedules_follow_their_formulas(name, expected):
    optimizer = sgd(lr=1.0)
    scheduler = cli_train.build_scheduler(name, optimizer, epochs=9)
    if expected is None:
        assert scheduler is None
        return
    lrs = []
    for _ in range(7):
        lrs.append(optimizer.param_groups[0]["lr"])
        scheduler.step()
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


def test_train_plateau_schedule_halves_after_three_bad_epochs():
    optimizer = sgd(lr=1.0)
    scheduler = cli_train.build_scheduler("plateau", optimizer, epochs=9)
    lrs = []
    for loss in [1.0, 2.0, 2.0, 2.0, 2.0]:
        scheduler.step(loss)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5]


def test_plot_history_skips_figures_without_data(tmp_path):
    history = {"epoch": [0, 1], "train_loss": [1.0, 0.5], "lr": [0.1, 0.0]}
    written = cli_train.plot_history(history, str(tmp_path / "out"))
    assert [os.path.basename(path) for path in written] == ["loss.png", "lr.png"]
    assert all(open(path, "rb").read(4) == b"\x89PNG" for path in written)


# ================================================================ CLI: damaged train checkpoints

def good_checkpoint_state():
    config = {"data": "moons", "model": "mlp", "hidden": [4], "activation": "relu",
              "batchnorm": False, "dropout": 0.0, "in_features": 2, "num_classes": 2,
              "val_fraction": 0.2}
    X = cli_train.load_data("moons")[0]
    return {"model": cli_train.build_model(config).state_dict(), "config": config,
            "standardize": {"mean": X.mean(axis=0), "std": X.std(axis=0)}}


DAMAGED = {   # how the checkpoint is damaged: what the one-line error says
    "a list": (lambda state: [1, 2], "it holds a list, not a dict"),
    "model 5": (lambda state: dict(state, model=5), "'model' is 5, expected a dict"),
    "no val_fraction": (lambda state: dict(state, config={
        k: v for k, v in state["config"].items() if k != "val_fraction"}),
        "config 'val_fraction' is missing"),
    "long activation": (lambda state: dict(state, config=dict(state["config"],
                                                                activation="x" * 80)),
                        "config 'activation' is 'xxxx"),
    "in_features 3": (lambda state: dict(state, config=dict(state["config"], in_features=3)),
                      "the model has 3 inputs and 2 classes but the moons data have 2 and 2"),
    "short mean": (lambda state: dict(state, standardize=dict(state["standardize"],
                                                              mean=np.zeros(3))),
                   "standardize 'mean' is an array of dtype float64 and shape (3,)"),
    "zero std": (lambda state: dict(state, standardize=dict(state["standardize"],
                                                            std=np.zeros(2))),
                 "standardize 'std' has zeros"),
    "text weights": (lambda state: dict(state, model={"0.weight": "w"}),
                     "'model' holds values that are not tensors"),
    "wide hidden": (lambda state: dict(state, config=dict(state["config"], hidden=[4096])),
                    "config 'hidden' [4096] describes 20,482 weights but the file holds 22"),
}


@pytest.mark.parametrize("damage", DAMAGED, ids=list(DAMAGED))
def test_load_names_what_is_wrong_with_a_train_checkpoint(capsys, tmp_path, damage):
    change, named = DAMAGED[damage]
    path = str(tmp_path / "damaged.ckpt")
    save(change(good_checkpoint_state()), path)
    status, out, err = run_main(capsys, ["train", "--load", path])
    assert_one_line_error(status, err, path, "not one written by 'tinygrad-opt train --save'",
                          named)
    if damage == "long activation":
        assert "..." in err and "x" * 60 not in err                 # shortened to 60 characters


# ===================================================================== CLI: tune

def test_tune_search_space_and_schedules_name_the_choices():
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd, got 'rmsprop'"):
        cli_tune.search_space(5, 0, "rmsprop")
    with pytest.raises(ValueError, match="unknown schedule 'cosine'; expected one of none, "
                                         "step, exponential, inverse-time"):
        cli_tune.make_scheduler("cosine", 0.1, sgd())


def test_tune_scheduler_and_workers_are_exclusive(capsys):
    status, out, err = run_main(capsys, ["tune", "--scheduler", "local:1", "--workers", "2"])
    assert_one_line_error(status, err, "--workers", "--scheduler", "one or the other")


def test_tune_grid_with_save_tries_every_schedule(capsys, tmp_path):
    save_dir = tmp_path / "search"
    status, out, err = run_main(capsys, ["tune", "--method", "grid", "--trials", "4",
                                         "--epochs", "1", "--save", str(save_dir),
                                         "--no-progress"])
    assert status == 0, err
    assert "tune: grid search, 4 trials" in out
    saved = re.search(r"saved (\d+) files to (.*)", out)
    assert saved is not None and saved.group(2) == str(save_dir)
    files = sorted(os.listdir(save_dir))
    assert int(saved.group(1)) == len(files) and "search.json" in files
    trials = [json.loads((save_dir / name).read_text()) for name in files if name != "search.json"]
    assert len(trials) == 4
    assert sorted(trial["params"]["schedule"] for trial in trials) == sorted(cli_tune.SCHEDULES)


def test_tune_with_sgd_searches_momentum(capsys):
    status, out, err = run_main(capsys, ["tune", "--optimizer", "sgd", "--trials", "1",
                                         "--epochs", "1", "--no-progress"])
    assert status == 0, err
    best = re.search(r"best configuration \(trial 0\): (.*)", out).group(1)
    momentum = float(re.search(r"momentum=([\d.]+)", best).group(1))
    assert momentum in (0.5, 0.9, 0.95, 0.99)


def test_tune_where_every_trial_fails_is_a_one_line_error(capsys, monkeypatch):
    def broken(params):
        raise ValueError("the objective broke")

    monkeypatch.setattr(cli_tune, "digits_objective", broken)
    status, out, err = run_main(capsys, ["tune", "--trials", "2", "--epochs", "1",
                                         "--no-progress"])
    assert_one_line_error(status, err, "tune: no successful trial among 2",
                          "the objective broke")


# ===================================================================== CLI: vanishing

TINY_STUDY = ["vanishing", "--quick", "--models", "relu", "--depth", "4", "--width", "4",
              "--epochs", "0"]


@pytest.mark.parametrize("flags, named", [
    (["--epochs", "-1"], "--epochs must be >= 0, got -1"),
    (["--depth", "3"], "--depth must be an even number >= 4"),
    (["--depth", "5", "--models", "relu+residual"], "got 5"),
])
def test_vanishing_depth_and_epochs_are_checked(capsys, flags, named):
    status, out, err = run_main(capsys, ["vanishing", "--quick", "--models", "relu", *flags])
    assert_one_line_error(status, err, named)
    assert "Per-layer" not in out


def test_vanishing_writes_its_figures(capsys, tmp_path):
    status, out, err = run_main(capsys, TINY_STUDY + ["--plot", str(tmp_path)])
    assert status == 0, err
    written = sorted(os.listdir(tmp_path))
    assert written and all(name.endswith(".png") for name in written)
    assert "wrote " + str(tmp_path) in out
    assert "vanishing_init.png" in written


def test_vanishing_plot_hint_or_error(capsys, monkeypatch, tmp_path):
    def no_matplotlib(results, directory):
        raise RuntimeError(viz.PLOT_HINT)

    monkeypatch.setattr(cli_vanishing, "plot_vanishing", no_matplotlib)
    status, out, err = run_main(capsys, TINY_STUDY + ["--plot", str(tmp_path)])
    assert status == 0, err
    assert viz.PLOT_HINT in out and "wrote" not in out

    def broken(results, directory):
        raise RuntimeError("the figure broke")

    monkeypatch.setattr(cli_vanishing, "plot_vanishing", broken)
    status, out, err = run_main(capsys, TINY_STUDY + ["--plot", str(tmp_path)])
    assert_one_line_error(status, err, "the figure broke")


# ===================================================================== CLI: bench, entry point

def test_bench_hands_its_flags_to_the_benchmark_runner(capsys, monkeypatch):
    from tinygrad_opt.benchmarks import run
    calls = []
    monkeypatch.setattr(run, "main", lambda quick, only: calls.append((quick, only)))
    assert main(["bench", "--quick", "--only", "cnn", "--only", "ops"]) == 0
    assert main(["bench"]) == 0
    assert calls == [(True, ["cnn", "ops"]), (False, None)]


def test_bench_falls_back_to_the_checkout_benchmarks_folder(monkeypatch):
    calls = []
    checkout = types.ModuleType("benchmarks")
    checkout.run = types.SimpleNamespace(main=lambda quick, only: calls.append((quick, only)))
    monkeypatch.setitem(sys.modules, "tinygrad_opt.benchmarks", None)   # not installed
    monkeypatch.setitem(sys.modules, "benchmarks", checkout)
    assert main(["bench", "--only", "mlp"]) == 0
    assert calls == [(False, ["mlp"])]


def test_ctrl_c_ends_with_status_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_train, "run_train", interrupted)
    status, out, err = run_main(capsys, ["train"])
    assert status == 130
    assert err.strip() == "tinygrad-opt: interrupted"


def test_the_module_run_as_a_script_exits_with_mains_status(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["tinygrad-opt", "train", "--overwrite"])
    path = os.path.join(os.path.dirname(cli_args.__file__), "__init__.py")
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(path, run_name="__main__")
    assert exit_.value.code == 2
    assert "--overwrite applies to --save" in capsys.readouterr().err
