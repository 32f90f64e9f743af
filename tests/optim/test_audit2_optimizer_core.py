"""Audit of the optimizer core against torch.optim: construction, zero_grad, state_dict,
SGD/Adam/AdamW numbers, and the fused/chunked twins, with expected values written here
in NumPy from PyTorch's documented update rules (PyTorch itself is never imported)."""

import copy

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import fused


# --- NumPy transcriptions of torch.optim's single-tensor rules (float64) ---

def ref_sgd(theta, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
            nesterov=False, maximize=False):
    """torch.optim.SGD: the first momentum buffer is a clone of g (not (1 - dampening)·g)."""
    g = -g if maximize else g
    g = g + weight_decay * theta
    if momentum:
        b = state.get("b")
        b = np.copy(g) if b is None else momentum * b + (1 - dampening) * g
        state["b"] = b
        g = g + momentum * b if nesterov else b
    return theta - lr * g


def ref_adam(theta, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False, maximize=False, decoupled=False):
    """torch.optim.Adam/AdamW: denom = sqrt(v_hat)/sqrt(1 - beta2^t) + eps (eps outside)."""
    beta1, beta2 = betas
    t = state["t"] = state.get("t", 0) + 1
    g = -g if maximize else g
    if decoupled:
        theta = theta * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * theta
    m = state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    if amsgrad:
        v = state["v_max"] = np.maximum(state.get("v_max", 0.0), v)
    denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + eps
    return theta - lr / (1 - beta1 ** t) * m / denom


def tensor(array, **kwargs):
    return tg.tensor(np.array(array), **kwargs)


# --- lr as a one-element Tensor ---

TENSOR_LR_CASES = [
    (optim.SGD, dict(momentum=0.9, weight_decay=0.1)),
    (optim.Adam, dict(amsgrad=True, weight_decay=0.1)),
    (optim.AdamW, dict(maximize=True)),
]


@pytest.mark.parametrize("fused_option", [False, None])
@pytest.mark.parametrize("optimizer_class, options", TENSOR_LR_CASES,
                         ids=[c.__name__ for c, _ in TENSOR_LR_CASES])
def test_lr_as_a_one_element_tensor_steps_like_its_value(optimizer_class, options,
                                                          fused_option, rng):
    # PyTorch accepts lr=torch.tensor(0.01): the step reads its value, the group keeps the
    # Tensor, and an in-place change of the Tensor takes effect at the next step.
    shapes = [(3,), (70_000,)]  # a group large enough for the compiled twin with fused=None
    start = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    grads = [[rng.standard_normal(shape).astype(np.float32) for shape in shapes]
             for _ in range(4)]
    lr = tg.tensor(np.array(0.05, dtype=np.float32))
    with_tensor = [tg.tensor(a.copy(), requires_grad=True) for a in start]
    with_number = [tg.tensor(a.copy(), requires_grad=True) for a in start]
    opt_tensor = optimizer_class(with_tensor, lr=lr, fused=fused_option, **options)
    opt_number = optimizer_class(with_number, lr=0.05, fused=fused_option, **options)
    for step, step_grads in enumerate(grads):
        if step == 2:
            lr.data[...] = 0.01
            opt_number.param_groups[0]["lr"] = 0.01
        for params, opt in ((with_tensor, opt_tensor), (with_number, opt_number)):
            for p, g in zip(params, step_grads):
                p.grad = tg.tensor(g)
            opt.step()
    assert opt_tensor.param_groups[0]["lr"] is lr
    for a, b in zip(with_tensor, with_number):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
        assert a.numpy().dtype == np.float32


def test_lr_tensor_on_the_parameters_device(device):
    # PyTorch: Adam's first step moves each element by lr·sign(g) (m̂/√v̂ = ±1), SGD's by lr·g
    p = tg.tensor(np.array([1.0, 2.0]), device=device, requires_grad=True)
    lr = tg.tensor(np.array(0.1), device=device)
    p.grad = tg.tensor(np.array([3.0, -0.5]), device=device)
    optim.Adam([p], lr=lr).step()
    np.testing.assert_allclose(p.numpy(), [0.9, 2.1], rtol=1e-7)
    optim.SGD([p], lr=lr, momentum=0.9).step()
    np.testing.assert_allclose(p.numpy(), [0.6, 2.15], rtol=1e-7)


def test_lr_tensor_of_several_elements_is_refused_by_name():
    # PyTorch: ValueError("Tensor lr must be 1-element")
    p = tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError):  # (the constructor's lr check refuses it already)
        optim.SGD([p], lr=tensor([0.1, 0.2]))
    opt = optim.SGD([p], lr=0.1)
    opt.param_groups[0]["lr"] = tensor([0.1, 0.2])
    p.grad = tensor([1.0, 1.0])
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        opt.step()


def test_state_dict_with_a_tensor_lr_round_trips():
    p = tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=tensor(0.1))
    p.grad = tensor([1.0, -1.0])
    opt.step()
    other = optim.Adam([tensor([1.0, 2.0], requires_grad=True)], lr=0.5)
    other.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert other.param_groups[0]["lr"].item() == pytest.approx(0.1)


# --- construction ---

def test_a_non_leaf_that_retains_grad_can_be_optimized():
    # PyTorch refuses a non-leaf unless it retains its grad (param.is_leaf or param.retains_grad)
    w = tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([h], lr=0.1)
    h.retain_grad()
    opt = optim.SGD([h], lr=0.1)
    (h * h).sum().backward()
    opt.step()
    np.testing.assert_allclose(h.numpy(), [3.0 - 0.1 * 6.0, 6.0 - 0.1 * 12.0])


def test_params_from_a_generator_and_groups_from_a_generator():
    a, b = tensor([1.0], requires_grad=True), tensor([2.0], requires_grad=True)
    opt = optim.SGD((p for p in [a, b]), lr=0.1)
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(a), id(b)]
    opt = optim.SGD(({"params": iter([p]), "lr": lr} for p, lr in ((a, 0.1), (b, 0.2))))
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert opt.param_groups[1]["params"][0] is b


def test_a_group_with_no_parameters_is_allowed_and_saved():
    # PyTorch: only an empty *list of groups* is an error, an empty group is fine
    p = tensor([1.0], requires_grad=True)
    opt = optim.Adam([{"params": []}, {"params": [p], "lr": 0.5}], lr=0.1)
    p.grad = tensor([1.0])
    opt.step()
    np.testing.assert_allclose(p.numpy(), [0.5])
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[], [0]]
    with pytest.raises(ValueError, match="got an empty parameter list"):
        optim.Adam([], lr=0.1)


# --- zero_grad and skipped parameters ---

def test_zero_grad_without_set_to_none_zeroes_the_same_grad_in_place():
    # PyTorch: set_to_none=False zeroes p.grad in place; the grad Tensor stays the same object
    p = tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    grad, array = p.grad, p.grad.data
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.data is array
    np.testing.assert_array_equal(array, [0.0, 0.0])
    (p * p).sum().backward()  # accumulates into the zeroed grad
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, 4.0])


def test_a_parameter_skipped_mid_run_keeps_its_state_and_its_own_step_count(rng):
    # PyTorch skips p.grad None: its state (and its 'step', hence its bias correction) waits
    start = [rng.standard_normal(3), rng.standard_normal(2)]
    params = [tg.tensor(a.copy(), requires_grad=True) for a in start]
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    reference = [a.copy() for a in start]
    states = [{}, {}]
    for step in range(5):
        for k, p in enumerate(params):
            if k == 1 and step in (1, 2):
                p.grad = None
                continue
            g = rng.standard_normal(p.shape)
            p.grad = tg.tensor(g)
            reference[k] = ref_adam(reference[k], g, states[k], lr=0.1, amsgrad=True)
        before = copy.deepcopy(opt.state[params[1]])
        opt.step()
        if step in (1, 2):
            after = opt.state[params[1]]
            assert after["step"] == before["step"] == 1
            for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                np.testing.assert_array_equal(after[key], before[key])
    assert [opt.state[p]["step"] for p in params] == [5, 3]
    for p, expected in zip(params, reference):
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12)


# --- SGD and Adam numbers on the options' corners ---

def test_sgd_first_momentum_buffer_is_the_gradient_not_damped():
    # PyTorch: buf = clone(g) at the first step, then buf = mu*buf + (1 - dampening)*g
    p = tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad = tensor([2.0])
    opt.step()
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [2.0])
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.1 * 2.0])
    p.grad = tensor([4.0])
    opt.step()
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [0.9 * 2.0 + 0.5 * 4.0])
    np.testing.assert_allclose(p.numpy(), [0.8 - 0.1 * 3.8])


def test_adam_eps_is_added_after_the_bias_corrected_square_root():
    # PyTorch: denom = sqrt(v_hat) / sqrt(1 - beta2^t) + eps; a large eps shows where it goes
    p = tensor([1.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.5, amsgrad=True)
    theta = 1.0
    m = v = v_max = 0.0
    for t, g in enumerate([2.0, -1.0, 0.5], start=1):
        p.grad = tensor([g])
        opt.step()
        m = 0.5 * m + 0.5 * g
        v = 0.75 * v + 0.25 * g * g
        v_max = max(v_max, v)
        theta -= 0.1 * (m / (1 - 0.5 ** t)) / (np.sqrt(v_max) / np.sqrt(1 - 0.75 ** t) + 0.5)
        np.testing.assert_allclose(p.numpy(), [theta], rtol=1e-13)


@pytest.mark.parametrize("dtype, rtol", [(np.float16, 3e-2), (np.float32, 1e-5),
                                         (np.float64, 1e-12)])
def test_0d_and_empty_parameters_in_every_float_dtype(dtype, rtol):
    # PyTorch: 0-d and empty params step like any other; state keeps the param's dtype
    cases = [(optim.SGD, ref_sgd, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
             (optim.Adam, ref_adam, dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
             (optim.AdamW, ref_adam, dict(lr=0.1, weight_decay=0.1))]
    for optimizer_class, reference_rule, options in cases:
        scalar = tg.tensor(np.array(1.5, dtype=dtype), requires_grad=True)
        empty = tg.tensor(np.zeros((0, 3), dtype=dtype), requires_grad=True)
        opt = optimizer_class([scalar, empty], **options)
        ref_options = dict(options, decoupled=True) if optimizer_class is optim.AdamW else options
        theta, state = 1.5, {}
        for g in (0.7, -0.3, 0.2):
            scalar.grad = tg.tensor(np.array(g, dtype=dtype))
            empty.grad = tg.tensor(np.zeros((0, 3), dtype=dtype))
            opt.step()
            theta = ref_adam(theta, g, state, **ref_options) if reference_rule is ref_adam \
                else ref_sgd(theta, g, state, **options)
        assert scalar.numpy().shape == () and scalar.numpy().dtype == dtype
        assert empty.numpy().shape == (0, 3) and empty.numpy().dtype == dtype
        np.testing.assert_allclose(scalar.numpy(), theta, rtol=rtol)
        for value in opt.state[scalar].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == dtype and value.shape == ()


# --- the twins (chunked, compiled) against the readable rule ---

TWIN_CASES = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1, maximize=True)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    (optim.AdamW, dict(lr=0.01, amsgrad=True, weight_decay=0.1, eps=1e-3)),
    (optim.Adam, dict(lr=0.01, betas=(0.0, 0.0))),
]
TWIN_MODES = ["chunked"] + (["compiled"] if fused.compiled_cpu() is not None else [])
TWIN_SHAPES = [(), (0,), (3, 4), (5000,), (2,)]


def run_twin(optimizer_class, options, dtype, mode):
    """20 steps over two groups; some gradients None on some steps; lr cut at step 7."""
    rng = np.random.default_rng(1)
    params = [tg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
              for s in TWIN_SHAPES]
    opt = optimizer_class([{"params": params[:3]},
                           {"params": params[3:], "lr": options["lr"] * 2}],
                          **options, fused=mode == "compiled")
    opt.chunk_bytes = 256 if mode == "chunked" else None
    for step in range(20):
        for k, p in enumerate(params):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad = None if (step + k) % 4 == 1 else tg.tensor(g)
        if step == 7:
            for group in opt.param_groups:
                group["lr"] *= 0.3
        opt.step()
    return [p.numpy().copy() for p in params], [dict(opt.state[p]) for p in params]


@pytest.mark.parametrize("mode", TWIN_MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer_class, options", TWIN_CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(TWIN_CASES)])
def test_twins_match_the_readable_rule_with_lr_changes_and_skipped_params(
        optimizer_class, options, dtype, mode):
    expected_params, expected_states = run_twin(optimizer_class, options, dtype, "readable")
    params, states = run_twin(optimizer_class, options, dtype, mode)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12)
    for got, expected in zip(params, expected_params):
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, **tolerance)
    for got, expected in zip(states, expected_states):
        assert list(got) == list(expected)
        for key in got:
            assert type(got[key]) is type(expected[key])
            np.testing.assert_allclose(got[key], expected[key], **tolerance, err_msg=key)


# --- loading a state dict in PyTorch's layout ---

def test_load_state_dict_in_pytorchs_layout_resumes_the_run(rng):
    # PyTorch saves 'step' as a float32 0-d Tensor, state as Tensors, and group keys such
    # as 'foreach'; loading casts state to the param's dtype, keys it lacks keep their value
    start = rng.standard_normal(4).astype(np.float32)
    grads = [rng.standard_normal(4).astype(np.float32) for _ in range(5)]
    whole = tg.tensor(start.copy(), requires_grad=True)
    opt = optim.AdamW([whole], lr=0.01, amsgrad=True)
    for g in grads:
        whole.grad = tg.tensor(g)
        opt.step()

    resumed = tg.tensor(start.copy(), requires_grad=True)
    first = optim.AdamW([resumed], lr=0.01, amsgrad=True)
    for g in grads[:3]:
        resumed.grad = tg.tensor(g)
        first.step()
    ours = first.state_dict()["state"][0]
    saved = {
        "state": {0: {"step": tg.tensor(np.array(3.0, dtype=np.float32)),
                      **{key: tg.tensor(ours[key].astype(np.float64))
                         for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}}},
        "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
                          "weight_decay": 1e-2, "amsgrad": True, "maximize": False,
                          "foreach": None, "capturable": False, "differentiable": False,
                          "fused": None, "params": [0]}],
    }
    second = optim.AdamW([resumed], lr=0.5, amsgrad=False)
    second.load_state_dict(saved)
    group = second.param_groups[0]
    assert group["lr"] == 0.01 and group["amsgrad"] is True
    assert group["decoupled_weight_decay"] is True  # not in the saved group: kept
    assert second.state[resumed]["step"] == 3
    assert second.state[resumed]["exp_avg"].dtype == np.float32
    assert isinstance(saved["state"][0]["exp_avg"], tg.Tensor)  # the given dict is untouched
    for g in grads[3:]:
        resumed.grad = tg.tensor(g)
        second.step()
    np.testing.assert_allclose(resumed.numpy(), whole.numpy(), rtol=1e-6)


def test_a_parameter_group_is_the_callers_dict():
    """As PyTorch's add_param_group: the group kept is the dict given (its 'params' made a
    list, the defaults filled in), so a later change to it reaches the optimizer. It was a
    copy: g['lr'] = 0.01 after construction changed nothing."""
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    group = {"params": w, "lr": 0.5}
    opt = optim.SGD([group], lr=1.0, momentum=0.9)
    assert opt.param_groups[0] is group
    assert group["params"] == [w] and group["momentum"] == 0.9  # (defaults filled in)
    group["lr"] = 0.25
    w.grad = tg.tensor([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(w.numpy(), [0.75, 1.75])
    bad = {"params": (w, "w")}
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([bad], lr=0.1)
    assert bad == {"params": (w, "w")}  # checked before anything is written into it
