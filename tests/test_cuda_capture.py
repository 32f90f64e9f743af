"""tinygrad_opt.cuda.capture: a training step recorded as a CUDA graph and replayed.

On a GPU (``pytest --device cuda``) each test records a real step and compares the
replays with the same steps run eagerly, or checks that what cannot be captured
raises a clear error. Off a GPU (CI's 'cpu' and 'strict') each test checks that
capture refuses clearly: it needs CuPy, a GPU and inputs on it.

CuPy refuses cuBLAS calls during a capture (seen with CuPy 14.2 on an H200,
2026-12-04), so a matrix product cannot be in a captured step: the model here is
elementwise, logits = x·w + b per class (no product of matrices), and
``test_a_matrix_product_is_refused_naming_the_op`` checks the refusal.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim
from tinygrad_opt.cuda import CaptureError, capture


def refused_off_the_gpu(device, step, *inputs) -> bool:
    """Off a GPU, capture refuses with a clear error: True (the test ends there)."""
    if device == "cuda":
        return False
    expected = ("must be a tensor on 'cuda'" if tg.cuda.is_available()
                else "needs CuPy and an NVIDIA GPU")
    with pytest.raises(CaptureError, match=expected):
        capture(step, *inputs)
    return True


class Elementwise(nn.Module):
    """logits[n, c] = x[n, c]·w[c] + b[c]: a model without matrix products."""

    def __init__(self, classes: int):
        super().__init__()
        self.w = nn.Parameter(tg.randn(classes))
        self.b = nn.Parameter(tg.randn(classes))

    def forward(self, x):
        return (x * self.w + self.b).tanh()


def mlp(device, seed=0):
    tg.manual_seed(seed)
    return Elementwise(5).to(device)


def batches(device, count, seed=0, batch=16):
    rng = np.random.default_rng(seed)
    return [(tg.tensor(rng.standard_normal((batch, 5)).astype(np.float32), device=device),
             tg.tensor(rng.integers(0, 5, batch), device=device)) for _ in range(count)]


def training_step(model, optimizer, with_update=True):
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if with_update:
            optimizer.step()
        return loss
    return step


def assert_same_parameters(model_a, model_b):
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_capture_refuses_without_a_gpu_or_without_warmup(device):
    x = tg.zeros(3, device=device)
    if refused_off_the_gpu(device, lambda x: x * 2, x):
        return
    with pytest.raises(CaptureError, match="warmup must be at least 1"):
        capture(lambda x: x * 2, x, warmup=0)
    with pytest.raises(CaptureError, match="example input 0 must be a tensor on 'cuda'"):
        capture(lambda x: x * 2, np.zeros(3))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_replays_of_a_captured_sgd_step_match_the_eager_steps(device, momentum):
    data = batches(device, 6)
    eager_model, captured_model = mlp(device), mlp(device)
    eager = training_step(eager_model, optim.SGD(eager_model.parameters(), lr=0.1,
                                                 momentum=momentum))
    step = training_step(captured_model, optim.SGD(captured_model.parameters(), lr=0.1,
                                                   momentum=momentum))
    if refused_off_the_gpu(device, step, *data[0]):
        return
    replay = capture(step, *data[0], warmup=2)   # two eager steps on data[0], then recorded
    for _ in range(2):
        eager(*data[0])
    assert_same_parameters(eager_model, captured_model)
    for x, y in data[1:]:
        expected = eager(x, y).item()
        assert replay(x, y).item() == pytest.approx(expected, rel=1e-5)
    assert_same_parameters(eager_model, captured_model)
    assert not np.allclose(eager_model.w.numpy(), mlp(device).w.numpy())  # it trained


def test_captured_forward_and_backward_with_an_eager_adam_step_match_eager_training(device):
    data = batches(device, 5, seed=1)
    eager_model, captured_model = mlp(device), mlp(device)
    eager_optimizer = optim.Adam(eager_model.parameters(), lr=1e-2)
    optimizer = optim.Adam(captured_model.parameters(), lr=1e-2)
    eager = training_step(eager_model, eager_optimizer)
    forward_backward = training_step(captured_model, optimizer, with_update=False)
    if refused_off_the_gpu(device, forward_backward, *data[0]):
        return
    replay = capture(forward_backward, *data[0])   # the warm-up computes gradients only
    for x, y in data:
        expected = eager(x, y).item()
        assert replay(x, y).item() == pytest.approx(expected, rel=1e-5)
        optimizer.step()                             # reads the gradients the replay wrote
    assert_same_parameters(eager_model, captured_model)
    assert optimizer.state[captured_model.w]["step"] == len(data)


@pytest.mark.parametrize("make", [lambda p: optim.Adam(p, lr=1e-3),
                                  lambda p: optim.AdamW(p, lr=1e-3),
                                  lambda p: optim.Adagrad(p, lr=1e-2, lr_decay=0.1)])
def test_a_step_whose_update_counts_steps_on_the_host_is_refused(device, make):
    model = mlp(device)
    optimizer = make(model.parameters())
    step = training_step(model, optimizer)
    data = batches(device, 1)
    if refused_off_the_gpu(device, step, *data[0]):
        return
    with pytest.raises(CaptureError, match=f"{type(optimizer).__name__}'s update depends on "
                                           "its step count.*optimizer.step\\(\\) after each"):
        capture(step, *data[0])


def test_a_host_read_inside_the_step_is_refused_naming_where(device):
    model = mlp(device)
    inner = training_step(model, optim.SGD(model.parameters(), lr=0.1))

    def step_that_prints(x, y):
        loss = inner(x, y)
        print(loss.item())                           # reads the device on the host
        return loss
    data = batches(device, 1)
    if refused_off_the_gpu(device, step_that_prints, *data[0]):
        return
    with pytest.raises(CaptureError, match="cannot record at .*test_cuda_capture.py:[0-9]+ "
                                           "\\(step_that_prints\\)"):
        capture(step_that_prints, *data[0])
    replay = capture(inner, *data[0])                # the stream is usable again
    assert np.isfinite(replay(*data[0]).item())


def test_a_replay_after_the_learning_rate_changed_is_refused(device):
    model = mlp(device)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    step = training_step(model, optimizer)
    data = batches(device, 2)
    if refused_off_the_gpu(device, step, *data[0]):
        return
    replay = capture(step, *data[0])
    replay(*data[1])
    optimizer.param_groups[0]["lr"] = 0.05           # what a scheduler does
    with pytest.raises(CaptureError, match="SGD's lr changed since the step was captured "
                                           "\\(0.1 -> 0.05\\)"):
        replay(*data[1])


def test_replays_check_their_inputs_and_class_indices_as_eager_mode_does(device):
    model = mlp(device)
    step = training_step(model, optim.SGD(model.parameters(), lr=0.1))
    (x, y), = batches(device, 1)
    if refused_off_the_gpu(device, step, x, y):
        return
    replay = capture(step, x, y)
    with pytest.raises(CaptureError, match="captured with 2 inputs, this replay got 1"):
        replay(x)
    with pytest.raises(CaptureError, match="input 0 has shape \\(8, 5\\)"):
        replay(x[:8], y)
    with pytest.raises(CaptureError, match="input 1 must be a tensor on 'cuda'"):
        replay(x, y.cpu())
    bad = y.numpy().copy()
    bad[3] = 7
    with pytest.raises(IndexError, match="target value 7 is out of range for 5 classes"):
        replay(x, tg.tensor(bad, device=device))
    bad[3] = -100
    with pytest.raises(CaptureError, match="ignore_index=-100; the step was captured"):
        replay(x, tg.tensor(bad, device=device))


def test_a_matrix_product_is_refused_naming_the_op(device):
    tg.manual_seed(0)
    model = nn.Linear(5, 5).to(device)
    step = training_step(model, optim.SGD(model.parameters(), lr=0.1))
    data = batches(device, 1)
    if refused_off_the_gpu(device, step, *data[0]):
        return
    with pytest.raises(CaptureError, match="cannot record at .*test_cuda_capture.py:[0-9]+ "
                                           "\\(step\\), in forward \\(tinygrad_opt/ops/fused.py"
                                           ":[0-9]+\\): NotImplementedError: .*cuBLAS"):
        capture(step, *data[0])


def test_no_block_is_handed_out_twice_while_a_step_is_recorded():
    # A pool gives a block back to the next malloc once its pointer is dropped (as
    # CuPy's does). Capture._malloc_kept keeps every pointer, so while the graph lives
    # a block freed by the step is never handed to a second array of the graph.
    from tinygrad_opt.cuda import Capture

    class Pointer:
        def __init__(self, pool, block):
            self.pool, self.block = pool, block

        def __del__(self):
            self.pool.free.append(self.block)

    class Pool:
        def __init__(self):
            self.free = []

        def malloc(self, size):
            return Pointer(self, self.free.pop() if self.free else object())

    plain = Pool()
    memory = plain.malloc(64)
    block = memory.block
    del memory                                   # the array holding it is gone
    assert plain.malloc(64).block is block       # a plain pool reuses the block
    recording = object.__new__(Capture)
    recording.pool, recording.kept = Pool(), []
    memory = recording._malloc_kept(64)
    block = memory.block
    del memory
    assert recording._malloc_kept(64).block is not block
    assert len(recording.kept) == 2


def test_the_optimizer_checks_of_a_recording_off_the_gpu(monkeypatch):
    # What Optimizer.step asks of a rule while a step is recorded (optim/fused.py), run
    # with a stand-in recording: the GPU tests above run it inside a real capture.
    from types import SimpleNamespace

    from tinygrad_opt import cuda
    from tinygrad_opt.optim import fused
    recording = SimpleNamespace(checks=[])
    monkeypatch.setattr(cuda, "_active", recording)
    w = tg.zeros(3, requires_grad=True)
    for refused in (optim.Adam([w]), optim.AdamW([w]), optim.NAdam([w]),
                    optim.Adagrad([w], lr_decay=0.1)):
        with pytest.raises(CaptureError, match=f"{type(refused).__name__}'s update depends"):
            fused._check_capturable(refused, refused.param_groups[0])
    sgd = optim.SGD([w], lr=0.1, momentum=0.9)
    fused._check_capturable(sgd, sgd.param_groups[0])
    fused._check_capturable(optim.Adagrad([w]), optim.Adagrad([w]).param_groups[0])
    recording.checks[0]()                                # nothing changed: no error
    sgd.param_groups[0]["momentum"] = 0.5
    with pytest.raises(CaptureError, match="SGD's momentum changed .*\\(0.9 -> 0.5\\)"):
        recording.checks[0]()
