"""optim/fused.py's plain SGD twin: SGD.update with momentum, weight decay and
maximize off is the one line θ ← θ − γ·g. Its oracle is the readable rule: the
same parameters bit for bit, step by step; and it is chosen only where that holds."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim
from tinygrad_opt.optim import fused


def _params(device, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(5, 3), (3,), (), (0, 4)]
    return [tg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True, device=device)
            for shape in shapes]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_plain_twin_equals_the_readable_rule_bit_for_bit(device, dtype):
    ours, readable = _params(device, dtype), _params(device, dtype)
    fast = optim.SGD(ours, lr=0.07)
    slow = optim.SGD(readable, lr=0.07, fused=False)
    rng = np.random.default_rng(1)
    for step in range(4):
        for a, b in zip(ours, readable):
            g = rng.standard_normal(a.shape).astype(dtype)
            a.grad, b.grad = tg.tensor(g, device=device), tg.tensor(g, device=device)
        fast.step()
        slow.step()
        for a, b in zip(ours, readable):
            assert a.dtype == b.dtype and a.numpy().dtype == dtype
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert fast.state_dict()["state"] == slow.state_dict()["state"]  # (no entries)


def test_plain_twin_is_chosen_only_where_the_rule_comes_down_to_one_line():
    p = tg.zeros(3, requires_grad=True)
    chosen = lambda opt: fused.twin_of(opt, opt.param_groups[0], [p])  # noqa: E731
    assert chosen(optim.SGD([p], lr=0.1)) is fused.plain_sgd
    for options in (dict(momentum=0.9), dict(weight_decay=0.1), dict(maximize=True),
                    dict(fused=False), dict(momentum_form="notes")):  # (notes: fused=False)
        opt = optim.SGD([p], lr=0.1, **options)
        assert chosen(opt) == opt.update, options  # the readable rule itself

    class MySGD(optim.SGD):  # a subclass's own rule is never replaced
        def update(self, theta, g, state, group):
            theta -= 2 * group["lr"] * g
    opt = MySGD([p], lr=0.1)
    assert chosen(opt) == opt.update
    opt = optim.SGD([p], lr=0.1)
    opt.update = lambda theta, g, state, group: None  # nor an instance's own
    assert chosen(opt) is opt.update
    other = optim.Adam([p], lr=0.1)  # and no other rule
    assert chosen(other) == other.update


def test_a_group_changed_between_steps_switches_rule():
    # the choice is made at every step, from the group as it is then
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    p.grad = tg.tensor([1.0, 1.0])
    opt.step()                                   # plain: θ − γ·g
    np.testing.assert_array_equal(p.numpy(), [0.5, 1.5])
    opt.param_groups[0]["weight_decay"] = 1.0    # now g ← g + λ·θ first
    opt.step()
    np.testing.assert_array_equal(p.numpy(), [0.5 - 0.5 * 1.5, 1.5 - 0.5 * 2.5])
    opt.param_groups[0]["weight_decay"] = 0.0
    opt.param_groups[0]["maximize"] = True       # g ← −g
    opt.step()
    np.testing.assert_array_equal(p.numpy(), [-0.25 + 0.5, 0.25 + 0.5])


def test_plain_twin_trains_as_the_readable_rule():
    # a whole training run, step by step the same numbers
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = tg.tensor(rng.integers(0, 3, 16))
    models = []
    for fused_option in (None, False):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        models.append((model, optim.SGD(model.parameters(), lr=0.1, fused=fused_option)))
    for _ in range(5):
        for model, opt in models:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        for a, b in zip(models[0][0].parameters(), models[1][0].parameters()):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_plain_twin_runs_whole_arrays_below_a_million_parameters(device):
    # below PLAIN_SGD_MAX_SIZE: before the chunked rule and the compiled twin (which
    # cost more inside a training step); from it on, the choice as for any rule
    def chosen(sizes, **options):
        params = [tg.zeros(size, device=device, requires_grad=True) for size in sizes]
        opt = optim.SGD(params, lr=0.1, **options)
        return fused.twin_of(opt, opt.param_groups[0], params)

    big = fused.PLAIN_SGD_MAX_SIZE
    assert fused.COMPILED_MIN_SIZE < 400_000 < big and fused.CHUNK_BYTES < 4 * 400_000
    assert chosen([400_000, 512, 262_144]) is fused.plain_sgd
    assert chosen([big - 1]) is fused.plain_sgd
    compiled = fused.compiled_cpu() if device == "cpu" else None
    for sizes, options in [([big], {}), ([big // 2, big // 2], {}), ([400_000], dict(fused=False)),
                           ([400_000], dict(momentum=0.9)), ([400_000], dict(fused=True))]:
        if options.get("fused") is True and compiled is None:
            continue  # an error (tests/optim/test_fused_cpu.py)
        twin = chosen(sizes, **options)
        if compiled is not None and options.get("fused") is not False:
            assert isinstance(twin, compiled.GroupTwin), (sizes, options)
        else:
            assert getattr(twin, "func", None) is fused.update_in_chunks, (sizes, options)


def test_plain_twin_over_large_parameters_equals_the_readable_rule(device):
    rng = np.random.default_rng(2)
    shapes = [(300, 700), (700,), (3,)]
    ours = [tg.tensor(rng.standard_normal(s).astype(np.float32), device=device,
                      requires_grad=True) for s in shapes]
    readable = [tg.tensor(p.numpy(), device=device, requires_grad=True) for p in ours]
    fast, slow = optim.SGD(ours, lr=0.03), optim.SGD(readable, lr=0.03, fused=False)
    assert fused.twin_of(fast, fast.param_groups[0], ours) is fused.plain_sgd
    for _ in range(3):
        for a, b in zip(ours, readable):
            g = rng.standard_normal(a.shape).astype(np.float32)
            a.grad, b.grad = tg.tensor(g, device=device), tg.tensor(g, device=device)
        fast.step()
        slow.step()
        for a, b in zip(ours, readable):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
