"""Node hooks (``grad_fn.register_prehook``, ``grad_fn.register_hook``) and
``tg.autograd.graph.register_multi_grad_hook``, as PyTorch's ``torch.autograd.graph``:
a pre-hook sees ``(d loss / d output,)`` before the op's backward and may replace it; a
hook sees ``(grad_inputs, grad_outputs)`` after it and may replace ``grad_inputs``; a
multi-grad hook fires once per pass. Expected values are NumPy's chain rule by hand."""

import gc

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import graph
from tinygrad_opt.autograd.graph import register_multi_grad_hook


def host(t):
    return t if isinstance(t, np.ndarray) else np.asarray(t.detach().to("cpu").numpy())


def leaf(rng, shape, device, requires_grad=True):
    return tg.tensor(rng.standard_normal(shape), dtype=tg.float64, device=device,
                     requires_grad=requires_grad)


def test_a_prehook_replaces_the_gradient_of_the_output(device, rng):
    x, c = leaf(rng, (2, 3), device), leaf(rng, (2, 3), device, requires_grad=False)
    w = rng.standard_normal((2, 3))
    y = x * c
    seen = []

    def double(grad_outputs):
        seen.append(host(grad_outputs[0]))
        return (grad_outputs[0] * 2,)

    handle = y.grad_fn.register_prehook(double)
    (y * tg.tensor(w, device=device)).sum().backward(retain_graph=True)
    assert len(seen) == 1 and np.allclose(seen[0], w)  # d loss / d y, before the op
    assert np.allclose(host(x.grad), 2 * w * host(c))
    handle.remove()
    x.grad = None
    (y * tg.tensor(w, device=device)).sum().backward()
    assert len(seen) == 1 and np.allclose(host(x.grad), w * host(c))


def test_a_hook_sees_grad_inputs_and_grad_outputs_and_replaces_grad_inputs(device, rng):
    x, c = leaf(rng, (3,), device), leaf(rng, (3,), device, requires_grad=False)
    y = x * c
    seen = []

    def hook(grad_inputs, grad_outputs):
        seen.append((grad_inputs, grad_outputs))
        return (grad_inputs[0] * 3, None)

    y.grad_fn.register_hook(hook)
    (y * y).sum().backward()
    (gx, gc), (gy,) = seen[0]
    xn, cn = host(x), host(c)
    assert gc is None  # c needs no gradient: PyTorch passes None for it
    assert np.allclose(host(gy), 2 * xn * cn) and np.allclose(host(gx), 2 * xn * cn * cn)
    assert np.allclose(host(x.grad), 3 * 2 * xn * cn * cn)


def test_hooks_run_in_registration_order_each_seeing_the_last_result(device, rng):
    x = leaf(rng, (4,), device)
    y = x.exp()
    calls = []
    y.grad_fn.register_prehook(lambda g: calls.append("pre1") or (g[0] + 1,))
    y.grad_fn.register_prehook(lambda g: calls.append("pre2") or (g[0] * 10,))
    y.grad_fn.register_hook(lambda gi, go: calls.append("post1") or (gi[0] - 1,))
    y.grad_fn.register_hook(lambda gi, go: calls.append(("post2", host(go[0]))) or None)
    y.sum().backward()
    assert calls[:3] == ["pre1", "pre2", "post1"]
    assert np.allclose(calls[3][1], np.full(4, 20.0))  # grad_outputs after the pre-hooks
    assert np.allclose(host(x.grad), 20 * np.exp(host(x)) - 1)


def test_hooks_in_autograd_grad_and_under_create_graph(device, rng):
    x = leaf(rng, (3,), device)
    xn = host(x)
    y = x.exp()
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * 2,))
    (g,) = tg.autograd.grad(y.sum(), x, retain_graph=True)  # plain: arrays inside
    assert np.allclose(host(g), 2 * np.exp(xn)) and x.grad is None
    (g,) = tg.autograd.grad(y.sum(), x, create_graph=True)  # the hook's `* 2` is recorded
    assert g.requires_grad and np.allclose(host(g), 2 * np.exp(xn))
    g.sum().backward()  # d/dx sum(2 exp(x) as the hook made it, again through the hook)
    assert np.allclose(host(x.grad), 4 * np.exp(xn))


def test_a_prehook_may_drop_the_gradient_and_a_hook_one_input_s(device, rng):
    a, b = leaf(rng, (2,), device), leaf(rng, (2,), device)
    y = a * b
    y.grad_fn.register_hook(lambda gi, go: (None, gi[1]))
    (y + a).sum().backward()
    assert np.allclose(host(a.grad), np.ones(2))  # only the direct path
    assert np.allclose(host(b.grad), host(a))
    z = a.exp()
    z.grad_fn.register_prehook(lambda g: (None,))
    a.grad = None
    (z + 2 * a).sum().backward()
    assert np.allclose(host(a.grad), np.full(2, 2.0))


@pytest.mark.parametrize("kind", ["prehook", "hook"])
def test_a_wrong_number_of_gradients_raises_naming_the_node(device, rng, kind):
    a, b = leaf(rng, (2,), device), leaf(rng, (2,), device)
    y = a * b
    if kind == "prehook":
        y.grad_fn.register_prehook(lambda g: (g[0], g[0]))
        expected = "got 2, but expected 1"
    else:
        y.grad_fn.register_hook(lambda gi, go: (gi[0],))
        expected = "got 1, but expected 2"
    with pytest.raises(RuntimeError, match=f"<Mul>.*incorrect number of values.*{expected}"):
        y.sum().backward()


def test_a_wrong_shape_dtype_or_kind_raises_naming_the_node(device, rng):
    a = leaf(rng, (2, 3), device)
    cases = [(lambda gi, go: (gi[0].sum(0),), RuntimeError, "<Exp>.*changed the size"),
             (lambda gi, go: (gi[0].float(),), RuntimeError, "<Exp>.*changed the type"),
             (lambda gi, go: gi[0], TypeError, "<Exp>.*expected a tuple"),
             (lambda gi, go: (host(gi[0]),), TypeError, "<Exp>.*ndarray")]
    for hook, error, message in cases:
        y = a.exp()
        y.grad_fn.register_hook(hook)
        with pytest.raises(error, match=message):
            y.sum().backward()
    b = leaf(rng, (2, 3), device, requires_grad=False)
    y = a * b
    y.grad_fn.register_hook(lambda gi, go: (gi[0], gi[0]))  # b needs none: gi[1] is None
    with pytest.raises(RuntimeError, match="<Mul>.*can't replace a None gradient"):
        y.sum().backward()
    with pytest.raises(TypeError, match="register_hook: expected a callable"):
        a.exp().grad_fn.register_hook(3)


def test_multi_grad_hook_all_as_pytorch_s_example(device, rng):
    a, b = leaf(rng, (2, 3), device), leaf(rng, (2, 3), device)
    c, d = a * b, a * b
    calls = []
    register_multi_grad_hook((a, b, c, d), lambda grads: calls.append(
        [None if g is None else host(g) for g in grads]))
    c.sum().backward(retain_graph=True)
    an, bn = host(a), host(b)
    (ga, gb, gc, gd), = calls  # once per pass, d not reached
    assert gd is None and np.allclose(gc, np.ones((2, 3)))
    assert np.allclose(ga, bn) and np.allclose(gb, an)
    tg.autograd.grad(c.sum(), a, retain_graph=True)  # as backward(inputs=(a,)): b not needed
    ga, gb, gc, gd = calls[1]
    assert gb is None and gd is None and np.allclose(ga, bn) and np.allclose(gc, 1)
    (c.sum() + (d * 2).sum()).backward(create_graph=True)  # all four, once
    ga, gb, gc, gd = calls[2]
    assert len(calls) == 3 and np.allclose(ga, 3 * bn) and np.allclose(gd, 2)


def test_multi_grad_hook_any_fires_once_with_the_first_gradient(device, rng):
    a, b = leaf(rng, (3,), device), leaf(rng, (3,), device)
    frozen = leaf(rng, (3,), device, requires_grad=False)
    c = a * b
    calls = []
    handle = register_multi_grad_hook((a, frozen, c), lambda g: calls.append(host(g)),
                                      mode="any")
    (c * 5).sum().backward(retain_graph=True)
    assert len(calls) == 1 and np.allclose(calls[0], np.full(3, 5.0))  # c's, before a's
    (c * 5).sum().backward(retain_graph=True)
    assert len(calls) == 2
    handle.remove()
    (c * 5).sum().backward()
    assert len(calls) == 2 and np.allclose(host(a.grad), 3 * 5 * host(b))


def test_multi_grad_hook_arguments(device, rng):
    a, frozen = leaf(rng, (2,), device), leaf(rng, (2,), device, requires_grad=False)
    with pytest.raises(ValueError, match="mode.*'all', 'any'.*'some'"):
        register_multi_grad_hook((a,), print, mode="some")
    with pytest.raises(RuntimeError, match=r"tensors\[1\] does not require grad"):
        register_multi_grad_hook((a, frozen), print)
    assert a._hooks in (None, {})  # nothing left registered by the refused call


def test_without_hooks_the_plain_pass_is_the_fast_one_again(rng, monkeypatch):
    from tinygrad_opt.autograd import engine, fast_backward
    monkeypatch.setattr(fast_backward, "ENABLED", True)
    gc.collect()
    assert not graph.active
    x = leaf(rng, (3,), "cpu")
    y = x.exp()
    handle = y.grad_fn.register_prehook(lambda g: (g[0] * 2,))
    multi = register_multi_grad_hook((x,), lambda grads: None)
    runs = []
    original = engine.backward
    monkeypatch.setattr(engine, "backward", lambda *a, **k: runs.append(1) or original(*a, **k))
    y.sum().backward(retain_graph=True)
    assert runs == [1] and np.allclose(host(x.grad), 2 * np.exp(host(x)))
    handle.remove()
    multi.remove()
    gc.collect()
    assert not graph.active
    y.sum().backward()
    assert runs == [1] and np.allclose(host(x.grad), 3 * np.exp(host(x)))


def test_accumulate_grad_node_hooks(device, rng):
    """A leaf's node (``next_functions``): its pre-hook may replace the gradient before it
    is added into ``.grad``; its hook sees ``((), (grad,))`` afterwards."""
    x = leaf(rng, (2, 3), device)
    w = rng.standard_normal((2, 3))
    y = x * tg.tensor(w, device=device)
    node = y.grad_fn.next_functions[0][0]
    seen = []
    pre = node.register_prehook(lambda g: (g[0] * 2,))
    post = node.register_hook(lambda gi, go: seen.append((gi, host(go[0]), host(x.grad))))
    y.sum().backward(retain_graph=True)
    assert np.allclose(host(x.grad), 2 * w)
    (grad_inputs, grad_output, accumulated), = seen
    assert grad_inputs == () and np.allclose(grad_output, 2 * w)
    assert np.allclose(accumulated, 2 * w)  # after the accumulation
    pre.remove()
    post.remove()
    y.sum().backward()
    assert len(seen) == 1 and np.allclose(host(x.grad), 3 * w)
    z = x * 1
    z.grad_fn.next_functions[0][0].register_prehook(lambda g: (g[0][:1],))
    with pytest.raises(RuntimeError, match="<AccumulateGrad>.*changed the size"):
        z.sum().backward()


def test_multi_grad_hook_with_backward_inputs(device, rng):
    """PyTorch's example, second call: ``backward(inputs=(a,))`` computes no gradient for b."""
    a, b = leaf(rng, (2, 3), device), leaf(rng, (2, 3), device)
    c, d = a * b, a * b
    calls = []
    register_multi_grad_hook((a, b, c, d), lambda grads: calls.append(
        [None if g is None else host(g) for g in grads]))
    tg.autograd.backward(c.sum(), inputs=(a,))
    (ga, gb, gc, gd), = calls
    assert gb is None and gd is None and np.allclose(ga, host(b)) and np.allclose(gc, 1)
    assert b.grad is None and np.allclose(host(a.grad), host(b))
