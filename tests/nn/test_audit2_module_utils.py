"""Audit (second round) of ``nn.Module``, ``nn.utils`` (clipping, pruning, parametrize,
weight/spectral norm) and ``nn.init`` against PyTorch's documented semantics. Expected
values are written here by hand or in NumPy (PyTorch is never imported).

Bugs found: a 1-D checkpoint value for a 0-d tensor (PyTorch loads its first entry), the
random ``nn.init`` fills on integer tensors and with reversed ranges, ``trunc_normal_``'s
warning, ``_is_orthogonal``'s tolerance off the diagonal, pruning a buffer that left the
module without it. Pinned as right: clipping by the odd norms 0 and -inf and with
gradients of two dtypes, global pruning of an already pruned parameter with given
scores, structured pruning by importance scores, the full backward hook's entries for a
non-tensor argument and an unused output, weight_norm's ``dim=-1`` (the whole tensor)."""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import init
from tinygrad_opt.nn.utils import parametrizations, prune


# ------------------------------------------------------------------- load_state_dict

class _Scalar(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(tg.tensor(1.0))
        self.register_buffer("count", tg.tensor(2, dtype=tg.int64))


def test_a_0d_tensor_loads_the_first_entry_of_a_1d_value(device):
    # PyTorch's _load_from_state_dict: a 0-d param with a 1-D input takes input[0]
    # (checkpoints of PyTorch 0.3 stored scalars as 1-D tensors).
    module = _Scalar().to(device)
    result = module.load_state_dict({"p": tg.tensor([5.0, 6.0], device=device),
                                     "count": np.array([7])})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert module.p.shape == () and module.p.item() == 5.0
    assert module.count.shape == () and module.count.item() == 7
    assert module.count.dtype == tg.int64


def test_a_0d_tensor_takes_the_first_entry_with_assign_too():
    module = _Scalar()
    module.load_state_dict({"p": tg.tensor([4.0], dtype=tg.float64), "count": tg.tensor([3])},
                           assign=True)
    assert isinstance(module.p, nn.Parameter) and module.p.requires_grad
    assert module.p.shape == () and module.p.dtype == tg.float64 and module.p.item() == 4.0
    assert module.count.shape == () and module.count.item() == 3


def test_a_0d_tensor_still_refuses_an_empty_or_2d_value():
    module = _Scalar()
    for value in (tg.zeros(0), tg.zeros(1, 1)):
        with pytest.raises(RuntimeError, match=r"size mismatch for p"):
            module.load_state_dict({"p": value, "count": tg.tensor(1)})
    assert module.p.item() == 1.0                                 # nothing was copied


# ---------------------------------------------------------------------------- nn.init

@pytest.mark.parametrize("fill", [
    lambda t: init.uniform_(t), lambda t: init.normal_(t), lambda t: init.trunc_normal_(t),
    lambda t: init.xavier_uniform_(t), lambda t: init.kaiming_normal_(t),
    lambda t: init.orthogonal_(t), lambda t: init.sparse_(t, 0.5)])
def test_random_fills_refuse_an_integer_tensor(fill):
    # PyTorch: its uniform_/normal_ kernels are not implemented for Long (RuntimeError);
    # we filled truncated draws.
    t = tg.zeros(3, 4, dtype=tg.int64)
    with pytest.raises(TypeError, match="draws floats; the tensor has dtype int64"):
        fill(t)
    assert (t.numpy() == 0).all()


def test_the_deterministic_fills_keep_working_on_integer_tensors():
    t = tg.zeros(2, 3, dtype=tg.int64)
    assert init.ones_(t).numpy().tolist() == [[1, 1, 1], [1, 1, 1]]
    assert init.constant_(t, 2.7).numpy().tolist() == [[2, 2, 2], [2, 2, 2]]  # truncated
    assert init.eye_(t).numpy().tolist() == [[1, 0, 0], [0, 1, 0]]


def test_reversed_ranges_and_negative_std_name_the_arguments():
    # PyTorch raises (uniform_ expects from <= to, normal expects std >= 0); we passed
    # NumPy's "high - low < 0" / "scale < 0" through.
    t = tg.zeros(3)
    with pytest.raises(ValueError, match=r"uniform_: expects a <= b .* a=1.0, b=0.0"):
        init.uniform_(t, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"normal_: expects std >= 0, got std=-1.0"):
        init.normal_(t, 0.0, -1.0)
    with pytest.raises(ValueError, match=r"trunc_normal_: expects std > 0 and a <= b"):
        init.trunc_normal_(t, a=1.0, b=-1.0)
    with pytest.raises(ValueError, match=r"trunc_normal_: expects std > 0"):
        init.trunc_normal_(t, std=0.0)
    assert init.uniform_(t, 0.5, 0.5).numpy().tolist() == [0.5, 0.5, 0.5]
    assert init.normal_(t, 2.0, 0.0).numpy().tolist() == [2.0, 2.0, 2.0]


def test_trunc_normal_warns_when_the_mean_is_far_from_the_bounds():
    # PyTorch: "mean is more than 2 std from [a, b] in nn.init.trunc_normal_" (a warning);
    # the float32 draws of 2u − 1 in [−1, −1 + 1.2e-15] round to −1, erfinv gives −inf,
    # and the clamp puts every sample at a = −2 (the "incorrect distribution").
    t = tg.zeros(50)
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(t, mean=10.0, std=1.0, a=-2.0, b=2.0)
    assert np.all(t.numpy() == -2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.trunc_normal_(t, mean=3.9, std=1.0, a=-2.0, b=2.0)   # 1.9 std away: quiet
    assert t.numpy().min() >= -2.0 and t.numpy().max() <= 2.0


# --------------------------------------------------------------------- parametrizations

def test_orthogonal_orthogonalises_a_square_weight_off_by_more_than_atol(rng):
    # PyTorch's _is_orthogonal is allclose(QᵀQ, I, atol=10·n·eps) (rtol 1e-5 times |I|):
    # an off-diagonal error of 3e-6 is not orthogonal, so the base is Q of QR(W), with
    # positive diag(R). W = Q (I + E), E strictly upper: that QR gives Q back exactly.
    Q, R = np.linalg.qr(rng.standard_normal((4, 4)))
    Q = Q * np.sign(np.diag(R))
    E = np.zeros((4, 4))
    E[0, 1] = 3e-6
    layer = nn.Linear(4, 4).double()
    layer.weight.data[...] = Q @ (np.eye(4) + E)
    parametrizations.orthogonal(layer)
    W = layer.weight.numpy()
    np.testing.assert_allclose(W.T @ W, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(W, Q, atol=1e-12)


def test_orthogonal_keeps_an_orthogonal_weight_as_it_is(rng):
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    layer = nn.Linear(3, 3).double()
    layer.weight.data[...] = Q
    parametrizations.orthogonal(layer)
    np.testing.assert_allclose(layer.weight.numpy(), Q, atol=1e-13)


@pytest.mark.parametrize("dim, g_shape", [(None, ()), (-1, ()), (0, (3, 1, 1)),
                                          (1, (1, 2, 1)), (2, (1, 1, 4))])
def test_weight_norm_g_of_a_conv_weight_both_forms(rng, dim, g_shape):
    # PyTorch's norm_except_dim: dim=-1 is the norm of the whole tensor (as dim=None).
    weight = rng.standard_normal((3, 2, 4))
    axes = None if dim in (None, -1) else tuple(d for d in range(3) if d != dim)
    expected = np.linalg.norm(weight.reshape(-1)) if axes is None else \
        np.sqrt((weight ** 2).sum(axis=axes, keepdims=True))
    old, new = nn.Conv1d(2, 3, 4).double(), nn.Conv1d(2, 3, 4).double()
    old.weight.data[...] = weight
    new.weight.data[...] = weight
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(old, dim=dim)
    parametrizations.weight_norm(new, dim=dim)
    for g in (old.weight_g, new.parametrizations.weight.original0):
        assert g.shape == g_shape
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(new.weight.numpy(), weight, rtol=1e-12)


# ------------------------------------------------------------------------------ pruning

def test_pruning_a_buffer_is_refused_and_leaves_the_module_whole():
    # PyTorch registers name_orig as a Parameter first (TypeError for a buffer) and has
    # not touched the module; we deleted the buffer before failing.
    bn = nn.BatchNorm1d(3)
    with pytest.raises(TypeError, match="running_mean_orig"):
        prune.l1_unstructured(bn, "running_mean", amount=1)
    assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                        "num_batches_tracked"]
    assert not prune.is_pruned(bn)


def test_global_pruning_of_a_pruned_parameter_with_given_scores():
    # PyTorch: the scores are the given ones (else the pruned weight), the default mask
    # the existing one; the fraction counts the entries still unpruned.
    a = nn.Linear(3, 1, bias=False)
    b = nn.Linear(2, 1, bias=False)
    a.weight.data[...] = [[1.0, -2.0, 3.0]]
    b.weight.data[...] = [[-0.5, 4.0]]
    prune.l1_unstructured(a, "weight", amount=1)                    # 1.0 goes
    prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured,
                              importance_scores={(b, "weight"): tg.tensor([[10.0, 0.1]])},
                              amount=0.5)                            # 2 of the 4 left
    assert a.weight_mask.numpy().tolist() == [[0, 0, 1]]            # -2 (|2| < 3, 10)
    assert b.weight_mask.numpy().tolist() == [[1, 0]]               # score 0.1
    assert b.weight.numpy().tolist() == [[-0.5, 0.0]]
    assert len(a._forward_pre_hooks) == 1


def test_ln_structured_ranks_the_importance_scores_not_the_weight():
    layer = nn.Linear(2, 3)
    layer.weight.data[...] = [[1.0, 1.0], [5.0, 5.0], [2.0, 2.0]]
    scores = tg.tensor([[9.0, 9.0], [0.0, 0.1], [3.0, 3.0]])
    prune.ln_structured(layer, "weight", amount=1, n=2, dim=0, importance_scores=scores)
    assert layer.weight_mask.numpy().tolist() == [[1, 1], [0, 0], [1, 1]]


# ----------------------------------------------------------------------------- clipping

def _with_grads(*grads):
    params = []
    for grad in grads:
        p = nn.Parameter(tg.zeros(len(grad), dtype=grad.dtype))
        p.grad = tg.tensor(grad)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type, expected", [(0, 1.0), (-np.inf, 0.0), (0.5, 3.0)])
def test_clip_grad_norm_by_the_odd_norms(norm_type, expected):
    # PyTorch: the norm of the per-gradient norms; for 0 the count of gradients not all
    # zero (here 1 of 2), for -inf the smallest per-gradient min |g| (an all-zero one: 0).
    params = _with_grads(np.array([3.0, 0.0], np.float32), np.array([0.0, 0.0], np.float32))
    total = nn.utils.clip_grad_norm_(params, 100.0, norm_type=norm_type)
    assert total.dtype == tg.float32 and total.item() == expected
    assert params[0].grad.numpy().tolist() == [3.0, 0.0]           # under max_norm


def test_clip_grad_norm_with_gradients_of_two_dtypes():
    # PyTorch stacks the per-gradient norms (promoted: float64); each grad keeps its dtype.
    params = _with_grads(np.array([3.0, 4.0], np.float32), np.array([12.0]))
    total = nn.utils.clip_grad_norm_(params, 1.0)
    assert total.dtype == tg.float64 and total.item() == 13.0
    coef = 1.0 / (13.0 + 1e-6)
    assert params[0].grad.dtype == tg.float32 and params[1].grad.dtype == tg.float64
    np.testing.assert_allclose(params[0].grad.numpy(), [3 * coef, 4 * coef], rtol=1e-6)
    np.testing.assert_allclose(params[1].grad.numpy(), [12 * coef], rtol=1e-14)


# ---------------------------------------------------------------------------- hooks

class _Scale(nn.Module):
    def forward(self, x, scale):
        return x * scale, x + scale


def test_full_backward_hook_entries_for_a_number_argument_and_an_unused_output():
    # PyTorch: grad_input has one entry per positional argument, None for a non-tensor;
    # grad_output has None for an output that got no gradient.
    module = _Scale()
    seen = []
    module.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)))
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    product, _ = module(x, 3.0)
    product.sum().backward()
    (grad_input, grad_output), = seen
    assert len(grad_input) == 2 and grad_input[1] is None
    assert grad_input[0].numpy().tolist() == [3.0, 3.0]
    assert len(grad_output) == 2 and grad_output[1] is None
    assert grad_output[0].numpy().tolist() == [1.0, 1.0]
    assert x.grad.numpy().tolist() == [3.0, 3.0]
