"""The fused GPU kernels (optim/fused.py) against their readable twins.

On 'cuda' each optimizer runs twice from the same start, once with the readable
``update`` (fused=False) and once with the one-kernel twin (fused=True), and
every parameter and state array must agree step by step. On 'strict' the
readable update is the default and fused=True is an error naming the device
('cpu' has compiled kernels of its own: tests/optim/test_fused_cpu.py).
Run on a GPU with ``pytest --device cuda``.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import fused

CASES = [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, weight_decay=0.01, maximize=True)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=1e-2)),
    (optim.Adam, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    (optim.Adam, dict(lr=1e-2, maximize=True)),
    (optim.AdamW, dict(lr=1e-2, weight_decay=0.1)),
    (optim.AdamW, dict(lr=1e-2, amsgrad=True)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                         initial_accumulator_value=0.1)),
    (optim.RMSprop, dict(lr=1e-2)),
    (optim.RMSprop, dict(lr=1e-2, centered=True, weight_decay=0.01)),
    (optim.RMSprop, dict(lr=1e-2, momentum=0.9)),
    (optim.RMSprop, dict(lr=1e-2, momentum=0.9, centered=True, maximize=True)),
    (optim.Adadelta, dict(lr=1.0, weight_decay=0.01)),
    (optim.NAdam, dict(lr=1e-2, weight_decay=0.01)),
    (optim.NAdam, dict(lr=1e-2, weight_decay=0.01, decoupled_weight_decay=True)),
    (optim.NAdam, dict(lr=1e-2, weight_decay=0.01, bias_correction=False)),
]


def run(optimizer_class, options, device, dtype, fused, steps=20, shapes=None,
        configure=None):
    """Parameters and state after ``steps`` updates with a fixed gradient sequence
    (``configure(optimizer)``, if given, runs before the first step)."""
    rng = np.random.default_rng(0)
    params = [tg.tensor(rng.standard_normal(shape), dtype=dtype, device=device,
                        requires_grad=True) for shape in shapes or [(7, 5), (5,), (3, 1, 2)]]
    optimizer = optimizer_class(params, fused=fused, **options)
    if configure is not None:
        configure(optimizer)
    for _ in range(steps):
        for p in params:
            p.grad = tg.tensor(rng.standard_normal(p.shape), dtype=dtype, device=device)
        optimizer.step()
    states = [{key: value if isinstance(value, (int, float)) else tg.backend.to_host(value)
               for key, value in optimizer.state[p].items()} for p in params]
    return [p.numpy() for p in params], states


@pytest.mark.parametrize("optimizer_class, options", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(CASES)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_kernel_matches_the_readable_update(device, optimizer_class, options, dtype):
    readable_params, readable_state = run(optimizer_class, options, device, dtype, fused=False)
    if device == "cpu":  # the compiled CPU twins are tested in tests/optim/test_fused_cpu.py;
        default_params, _ = run(optimizer_class, options, device, dtype, fused=None)
        for ours, theirs in zip(default_params, readable_params):  # small groups: readable
            np.testing.assert_array_equal(ours, theirs)
        return
    if device != "cuda":
        with pytest.raises(RuntimeError, match=f"fused=True needs parameters on 'cuda'.*'{device}'"):
            run(optimizer_class, options, device, dtype, fused=True, steps=1)
        default_params, default_state = run(optimizer_class, options, device, dtype, fused=None)
        for ours, theirs in zip(default_params, readable_params):
            np.testing.assert_array_equal(ours, theirs)  # off the GPU: the readable path
        return
    fused_params, fused_state = run(optimizer_class, options, device, dtype, fused=True)
    tolerance = dict(rtol=2e-5, atol=2e-6) if dtype == "float32" else dict(rtol=1e-11, atol=1e-12)
    for ours, theirs in zip(fused_params, readable_params):
        np.testing.assert_allclose(ours, theirs, **tolerance)
    for ours, theirs in zip(fused_state, readable_state):
        assert list(ours) == list(theirs)  # the same keys, made in the same order
        for key in ours:
            np.testing.assert_allclose(ours[key], theirs[key], **tolerance, err_msg=key)


@pytest.mark.parametrize("optimizer_class, options", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(CASES)])
def test_gpu_twins_set_up_the_readable_state_and_call_their_kernels_as_declared(
        monkeypatch, optimizer_class, options):
    """The host part of each GPU twin, without a GPU: NumPy stands in for CuPy and a
    recorder for each compiled kernel. After every step the twin's state has the
    readable rule's keys in the same order, an int 'step' and arrays like θ; each
    kernel gets one argument per declared parameter, of the declared kind (T: the
    gradient or a scalar of θ's dtype; bool: a bool), and its outputs are θ and the
    state's arrays, in the state's order (the arithmetic is tested on a GPU, above)."""
    launches = []

    def recorder(name, inputs, outputs, body):
        return lambda *args: launches.append((inputs.split(","), outputs.split(","), args))
    monkeypatch.setattr(fused, "_kernel", recorder)
    monkeypatch.setattr(fused, "_cupy", lambda: np)
    rng = np.random.default_rng(0)
    readable_theta = rng.standard_normal((3, 4)).astype(np.float32)
    twin_theta = readable_theta.copy()
    optimizer = optimizer_class([tg.tensor(readable_theta.copy(), requires_grad=True)], **options)
    group = optimizer.param_groups[0]
    twin = fused.GPU_KERNELS[type(optimizer).update.__qualname__]
    readable_state, twin_state = {}, {}
    for step in range(1, 4):
        g = rng.standard_normal((3, 4)).astype(np.float32)
        optimizer.update(readable_theta, g, readable_state, group)
        twin(twin_theta, g, twin_state, group)
        assert list(twin_state) == list(readable_state)
        for key, value in twin_state.items():
            if key == "step":
                assert type(value) is int and value == readable_state[key] == step
            elif key == "mu_product":
                assert type(value) is float and value == pytest.approx(readable_state[key])
            else:
                assert type(value) is np.ndarray and value.dtype == twin_theta.dtype
                assert value.shape == twin_theta.shape
        inputs, outputs, args = launches[-1]
        assert len(args) == len(inputs) + len(outputs)
        for declared, arg in zip(inputs, args):
            kind = declared.split()[0]
            assert (type(arg) is bool) if kind == "bool" else (
                arg is g or type(arg) is np.float32), (declared, arg)
        arrays = [value for value in twin_state.values() if isinstance(value, np.ndarray)]
        assert [id(a) for a in args[len(inputs):]] == [id(a) for a in [twin_theta] + arrays]
    assert len(launches) == 3
