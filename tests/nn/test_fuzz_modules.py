"""Randomised (hypothesis) checks of the module system and of checkpoints.

Module trees are drawn at random: nested Sequential / ModuleList / ModuleDict / plain
Modules of Linear, Conv2d, BatchNorm1d, Embedding, ParameterList, ParameterDict and a
layer with a None parameter and a non-persistent buffer, with modules registered under
several names and weights tied between layers. Each test keeps a plain description of
the tree and derives what PyTorch gives from it, by the rules of PyTorch's docs and
``torch.nn.Module`` (never by asking tinygrad_opt): the order and prefixes of
``named_modules`` / ``named_children`` / ``named_parameters`` / ``named_buffers`` (with
and without ``remove_duplicate``), ``state_dict`` keys, ``load_state_dict``'s missing and
unexpected keys (PyTorch reports unexpected keys module by module, depth first) and
values (a tied weight takes its last key's value), ``apply`` / ``train`` /
``requires_grad_`` / ``zero_grad`` / ``to(dtype)`` over shared modules. Also: gradients
of tied weights (NumPy chain rule), forward and backward hooks against a transcription
of PyTorch's ``_call_impl`` (``with_kwargs``, ``prepend``, ``always_call`` with errors
raised anywhere in the call), container edits against a Python list or dict, deep copies
trained independently, and ``tg.save`` / ``tg.load`` round trips of random payloads
(bit-exact), of optimizer state (training continues identically), crashes while saving
and damaged files.

By default each test draws a few examples (derandomised, so CI is deterministic);
``FUZZ_MODULES_EXAMPLES=N`` draws N per test (with ``HYPOTHESIS_PROFILE=explore`` new ones).
"""

from __future__ import annotations

import copy
import io
import math
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt import serialization
from tinygrad_opt.serialization import CheckpointError
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("FUZZ_MODULES_EXAMPLES", 6)
fuzz = fuzz_settings(EXAMPLES)


# ------------------------------------------------------------------ tree descriptions

class Leaf:
    """A layer: its kind, sizes, and its local tensors as tokens (a tied weight shares
    its token with the weight it is tied to)."""

    def __init__(self, kind: str, sizes: tuple, number: int):
        self.kind, self.sizes, self.children = kind, sizes, []
        n = number
        if kind == "linear":
            fan_in, fan_out, bias = sizes
            self.params = {"weight": (n, "weight", (fan_out, fan_in))}
            if bias:
                self.params["bias"] = (n, "bias", (fan_out,))
            self.buffers = {}
        elif kind == "conv":
            c_in, c_out = sizes
            self.params = {"weight": (n, "weight", (c_out, c_in, 1, 1)),
                           "bias": (n, "bias", (c_out,))}
            self.buffers = {}
        elif kind == "bn":
            (c,) = sizes
            self.params = {"weight": (n, "weight", (c,)), "bias": (n, "bias", (c,))}
            self.buffers = {"running_mean": ((n, "running_mean", (c,)), True),
                            "running_var": ((n, "running_var", (c,)), True),
                            "num_batches_tracked": ((n, "num_batches_tracked", ()), True)}
        elif kind == "emb":
            vocab, dim = sizes
            self.params = {"weight": (n, "weight", (vocab, dim))}
            self.buffers = {}
        elif kind == "stateful":
            (size,) = sizes
            # registered: scale, maybe=None; buffers cache (non-persistent), count
            self.params = {"scale": (n, "scale", (size,))}
            self.buffers = {"cache": ((n, "cache", (size,)), False),
                            "count": ((n, "count", ()), True)}
        elif kind == "plist":
            self.params = {str(i): (n, str(i), (size,)) for i, size in enumerate(sizes)}
            self.buffers = {}
        elif kind == "pdict":
            self.params = {key: (n, key, (size,)) for key, size in sizes}
            self.buffers = {}
        else:
            raise AssertionError(kind)

    def __repr__(self) -> str:
        return f"{self.kind}#{id(self) % 1000}{self.sizes}"


class Node:
    """A container: ``seq`` / ``list`` / ``dict`` / ``plain`` (a bare Module with attributes
    and, optionally, a Parameter ``alpha`` of its own assigned after the children)."""

    def __init__(self, kind: str, children: list, own_param: bool, number: int):
        self.kind, self.children = kind, children  # children: [(name, node)]
        self.params = {"alpha": (number, "alpha", (2,))} if own_param else {}
        self.buffers = {}
        self.ties: list = []  # (source leaf, tied leaf), on the root only

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={child!r}" for name, child in self.children)
        return f"{self.kind}#{id(self) % 1000}({inner})"


class Stateful(nn.Module):
    """A layer with a None parameter, a non-persistent and an integer buffer."""

    def __init__(self, size: int):
        super().__init__()
        self.scale = nn.Parameter(tg.randn(size))
        self.register_parameter("maybe", None)
        self.register_buffer("cache", tg.randn(size), persistent=False)
        self.register_buffer("count", tg.zeros((), dtype=tg.int64))


DICT_KEYS = ["enc", "dec", "head", "a", "b2"]
ATTR_NAMES = ["fc", "body", "tail", "aux"]


@st.composite
def trees(draw, max_depth: int = 3, allow_sharing: bool = True):
    """A random tree description: (root Node, list of all nodes in creation order)."""
    made: list = []

    def leaf():
        kind = draw(st.sampled_from(["linear", "linear", "linear", "emb", "emb", "conv",
                                     "bn", "stateful", "plist", "pdict"]))
        small = st.integers(2, 3)
        weighted = [n.params["weight"][2] for n in made
                    if isinstance(n, Leaf) and n.kind in ("linear", "emb")]
        rows, cols = draw(small), draw(small)
        if kind in ("linear", "emb") and weighted and draw(st.booleans()):
            rows, cols = draw(st.sampled_from(weighted))  # a weight shape to tie to
        if kind == "linear":
            sizes = (cols, rows, draw(st.booleans()))  # weight (out, in) = (rows, cols)
        elif kind == "emb":
            sizes = (rows, cols)
        elif kind == "conv":
            sizes = (draw(small), draw(small))
        elif kind in ("bn", "stateful"):
            sizes = (draw(small),)
        elif kind == "plist":
            sizes = tuple(draw(st.lists(small, min_size=1, max_size=3)))
        else:
            keys = draw(st.lists(st.sampled_from(["u", "v", "w"]), min_size=1, max_size=3,
                                 unique=True))
            sizes = tuple((key, draw(small)) for key in keys)
        node = Leaf(kind, sizes, len(made))
        made.append(node)
        return node

    def node(depth: int):
        if allow_sharing and made and draw(st.integers(0, 4)) == 0:
            return draw(st.sampled_from(made))  # a module registered a second time
        if depth >= max_depth or draw(st.integers(0, 2)) == 0:
            return leaf()
        kind = draw(st.sampled_from(["seq", "list", "dict", "plain"]))
        count = draw(st.integers(1, 3))
        if kind in ("seq", "list"):
            names = [str(i) for i in range(count)]
        else:
            pool = DICT_KEYS if kind == "dict" else ATTR_NAMES
            names = draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count,
                                  unique=True))
        children = [(name, node(depth + 1)) for name in names]
        own = kind == "plain" and draw(st.booleans())
        result = Node(kind, children, own, len(made))
        made.append(result)
        return result

    root = node(0)
    if isinstance(root, Leaf):  # the root is a container
        root = Node("plain", [("fc", root)], draw(st.booleans()), len(made))
        made.append(root)
    # tie weights of equal shape: b.weight = a.weight
    groups: dict = {}
    for n in made:
        if isinstance(n, Leaf) and n.kind in ("linear", "emb"):
            groups.setdefault(n.params["weight"][2], []).append(n)
    groups = [group for group in groups.values() if len(group) >= 2]
    if allow_sharing and groups:
        for _ in range(draw(st.integers(0, 3))):
            group = draw(st.sampled_from(groups))
            a, b = draw(st.sampled_from(group)), draw(st.sampled_from(group))
            if a is not b:
                b.params["weight"] = a.params["weight"]
                root.ties.append((a, b))  # applied in this order by build()
    return root, made


def build(root: Node, made: list):
    """The tg module of each description (a shared description gives one module)."""
    modules: dict[int, nn.Module] = {}

    def make(desc):
        if id(desc) in modules:
            return modules[id(desc)]
        if isinstance(desc, Leaf):
            s = desc.sizes
            module = {"linear": lambda: nn.Linear(s[0], s[1], bias=s[2]) if desc.kind ==
                      "linear" else None,
                      "conv": lambda: nn.Conv2d(s[0], s[1], 1),
                      "bn": lambda: nn.BatchNorm1d(s[0]),
                      "emb": lambda: nn.Embedding(s[0], s[1]),
                      "stateful": lambda: Stateful(s[0]),
                      "plist": lambda: nn.ParameterList([tg.randn(k) for k in s]),
                      # pairs keep their order (a plain dict's keys would be sorted)
                      "pdict": lambda: nn.ParameterDict([(k, tg.randn(v)) for k, v in s]),
                      }[desc.kind]()
        else:
            children = [(name, make(child)) for name, child in desc.children]
            if desc.kind == "seq":
                module = nn.Sequential(*[m for _, m in children])
            elif desc.kind == "list":
                module = nn.ModuleList([m for _, m in children])
            elif desc.kind == "dict":
                module = nn.ModuleDict(dict(children))
            else:
                module = nn.Module()
                for name, child in children:
                    setattr(module, name, child)
                if desc.params:
                    module.alpha = nn.Parameter(tg.randn(2))  # after the children
        modules[id(desc)] = module
        return module

    model = make(root)
    for source, desc in root.ties:  # in the order they were drawn
        modules[id(desc)].weight = modules[id(source)].weight
    return model, modules


def tensor_tokens(made: list, modules: dict) -> dict:
    """id(tg tensor) -> description token, read from each built module's attributes."""
    tokens = {}
    for desc in made:
        module = modules[id(desc)]
        for name, token in desc.params.items():
            tokens.setdefault(id(getattr(module, name)), token)
        for name, (token, _) in desc.buffers.items():
            tokens.setdefault(id(getattr(module, name)), token)
    return tokens


# PyTorch's walks, over the descriptions (torch/nn/modules/module.py's rules)

def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def expected_named_modules(desc, prefix="", memo=None, remove_duplicate=True):
    """Pre-order; with remove_duplicate a module is yielded under its first name only."""
    memo = set() if memo is None else memo
    if id(desc) in memo:
        return []
    if remove_duplicate:
        memo.add(id(desc))
    out = [(prefix, desc)]
    for name, child in desc.children:
        out += expected_named_modules(child, join(prefix, name), memo, remove_duplicate)
    return out


def expected_named_members(root, kind: str, prefix="", remove_duplicate=True, recurse=True):
    """named_parameters / named_buffers: each module's own entries in the module walk;
    a tensor already yielded is skipped (with remove_duplicate)."""
    modules = (expected_named_modules(root, prefix, remove_duplicate=remove_duplicate)
               if recurse else [(prefix, root)])
    seen, out = set(), []
    for module_prefix, desc in modules:
        entries = (desc.params.items() if kind == "params"
                   else ((name, token) for name, (token, _) in desc.buffers.items()))
        for name, token in entries:
            if token in seen:
                continue
            if remove_duplicate:
                seen.add(token)
            out.append((join(module_prefix, name), token))
    return out


def expected_state_keys(desc, prefix=""):
    """state_dict: own parameters, own persistent buffers, then each child (no dedup)."""
    out = [(prefix + name, token) for name, token in desc.params.items()]
    out += [(prefix + name, token) for name, (token, keep) in desc.buffers.items() if keep]
    for name, child in desc.children:
        out += expected_state_keys(child, prefix + name + ".")
    return out


def expected_unexpected_order(root, state_keys: list, unexpected: set) -> list:
    """PyTorch's load visits the modules depth first (every name of a shared module) and
    each reports its unexpected keys in the state dict's order: a key belongs to the
    deepest module whose path prefixes it. Sorted by (that module's visit, key position)."""
    visits = [path for path, _ in expected_named_modules(root, remove_duplicate=False)]
    position = {key: i for i, key in enumerate(state_keys)}

    def owner(key):
        best = 0  # the root
        for i, path in enumerate(visits):
            if path and key.startswith(path + ".") and len(path) > len(visits[best]):
                best = i
        return best

    return sorted(unexpected, key=lambda key: (owner(key), position[key]))


# ----------------------------------------------------------------------- module walks

@fuzz
@given(trees(), st.sampled_from(["", "net"]))
def test_walks_and_state_dict_keys_follow_pytorchs_rules(tree, prefix):
    root, made = tree
    model, modules = build(root, made)
    tokens = tensor_tokens(made, modules)
    module_of = {id(m): id(d) for d, m in ((d, modules[id(d)]) for d in made)}

    for dedup in (True, False):
        got = [(name, module_of[id(m)])
               for name, m in model.named_modules(prefix=prefix, remove_duplicate=dedup)]
        want = [(name, id(d)) for name, d in
                expected_named_modules(root, prefix, remove_duplicate=dedup)]
        assert got == want
        for kind, method in (("params", model.named_parameters),
                             ("buffers", model.named_buffers)):
            got = [(name, tokens[id(t)]) for name, t in method(prefix=prefix,
                                                               remove_duplicate=dedup)]
            assert got == expected_named_members(root, kind, prefix, dedup)
    got = [(name, tokens[id(t)]) for name, t in model.named_parameters(recurse=False)]
    assert got == expected_named_members(root, "params", recurse=False)
    assert [tokens[id(p)] for p in model.parameters()] == \
        [token for _, token in expected_named_members(root, "params")]

    children, seen = [], set()
    for name, child in root.children:  # named_children: each child module once
        if id(child) not in seen:
            seen.add(id(child))
            children.append((name, id(child)))
    assert [(n, module_of[id(m)]) for n, m in model.named_children()] == children

    state = model.state_dict()
    want = expected_state_keys(root)
    assert list(state) == [key for key, _ in want]
    named = dict(model.named_parameters(remove_duplicate=False))
    named.update(model.named_buffers(remove_duplicate=False))
    for key, value in state.items():  # detached values sharing the module's memory
        assert not value.requires_grad and value is not named[key]
        assert np.shares_memory(value.data, named[key].data)
    kept = model.state_dict(keep_vars=True)
    assert [tokens[id(v)] for v in kept.values()] == [token for _, token in want]


@fuzz
@given(trees(), st.data())
def test_load_state_dict_missing_unexpected_values_and_errors(tree, data):
    root, made = tree
    tg.manual_seed(1)
    model, modules = build(root, made)
    tokens = tensor_tokens(made, modules)
    want = expected_state_keys(root)
    keys = [key for key, _ in want]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shapes = {key: tuple(model.state_dict()[key].shape) for key in keys}

    # a state dict of fresh values, some keys dropped, some bogus keys added, shuffled
    dropped = set(data.draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)))
    source = {}
    for key in keys:
        if key in dropped:
            continue
        if key.endswith(("num_batches_tracked", "count")):
            source[key] = int(rng.integers(0, 100))
        elif data.draw(st.booleans()):
            source[key] = rng.standard_normal(shapes[key])          # a host array
        else:
            source[key] = tg.tensor(rng.standard_normal(shapes[key]))  # a float64 Tensor
    paths = [p for p, _ in expected_named_modules(root, remove_duplicate=False)]
    bogus = set()
    for _ in range(data.draw(st.integers(0, 3))):
        base = data.draw(st.sampled_from(paths + keys))
        bogus.add(join(base, data.draw(st.sampled_from(["zz", "q.r"]))))
    bogus -= set(keys)
    for key in bogus:
        source[key] = rng.standard_normal(2)
    order = data.draw(st.permutations(list(source)))
    state = {key: source[key] for key in order}

    snapshot = {key: value.numpy().copy() for key, value in model.state_dict().items()}
    missing = [key for key in keys if key in dropped
               and not key.endswith("num_batches_tracked")]  # kept when missing (deviations.md)
    unexpected = expected_unexpected_order(root, order, bogus)

    if missing or unexpected:
        with pytest.raises(RuntimeError) as error:
            model.load_state_dict(state)
        message = str(error.value)
        for key in missing + unexpected:
            assert f'"{key}"' in message
        for key, value in model.state_dict().items():  # nothing was copied
            np.testing.assert_array_equal(value.numpy(), snapshot[key])
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == missing and result.unexpected_keys == unexpected
    assert isinstance(result, tuple) and tuple(result) == (missing, unexpected)

    # each tensor: the value of its last key in the load walk, else its old value
    expected = {}
    for key, token in want:
        if key in source:
            expected[token] = np.asarray(source[key].numpy() if isinstance(source[key], tg.Tensor)
                                         else source[key])
    for key, token in want:
        got = model.state_dict()[key].numpy()
        target = expected.get(token, snapshot[key])
        np.testing.assert_array_equal(got, np.asarray(target).astype(got.dtype))

    # a wrong shape is an error naming the key, strict or not, and nothing is copied
    shaped = [key for key in keys if shapes[key]]
    if shaped:
        key = data.draw(st.sampled_from(shaped))
        bad = dict(model.state_dict())
        snapshot = {k: v.numpy().copy() for k, v in bad.items()}
        bad = {k: v.numpy() + 1 for k, v in bad.items()}
        bad[key] = np.zeros(shapes[key] + (1,))
        for strict in (True, False):
            with pytest.raises(RuntimeError, match=f"size mismatch for {key}:"):
                model.load_state_dict(bad, strict=strict)
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), snapshot[k])


@fuzz
@given(trees(allow_sharing=False), st.data())
def test_load_state_dict_assign_puts_the_values_in(tree, data):
    root, made = tree
    model, _ = build(root, made)
    frozen = {name for name, p in model.named_parameters()
              if data.draw(st.booleans(), label=f"freeze {name}")}
    for name, p in model.named_parameters():
        p.requires_grad = name not in frozen
    state = {key: tg.tensor(value.numpy().astype(np.float64) + 1) if value.dtype.kind == "f"
             else value.clone() for key, value in model.state_dict().items()}
    result = model.load_state_dict(state, assign=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    for key, value in state.items():
        if key in params:
            p = params[key]
            assert isinstance(p, nn.Parameter) and p.requires_grad == (key not in frozen)
            assert p.dtype == value.dtype and np.shares_memory(p.data, value.data)
        else:
            assert buffers[key] is value  # a buffer is the tensor itself (keeps its dtype)


# --------------------------------------------- train / eval / apply / grads / dtypes

def subtree_ids(desc) -> set:
    out = {id(desc)}
    for _, child in desc.children:
        out |= subtree_ids(child)
    return out


@fuzz
@given(trees(), st.data())
def test_train_apply_requires_grad_zero_grad_and_dtypes_over_shared_modules(tree, data):
    root, made = tree
    model, modules = build(root, made)
    tokens = tensor_tokens(made, modules)
    paths = [p for p, _ in expected_named_modules(root)]
    descs = dict(expected_named_modules(root))

    # train(False) on a sub-module reaches exactly its sub-tree (shared modules included)
    path = data.draw(st.sampled_from(paths))
    model.get_submodule(path).eval()
    inside = subtree_ids(descs[path])
    for desc in made:
        assert modules[id(desc)].training == (id(desc) not in inside)
    model.train()
    assert all(m.training for m in model.modules())

    # apply: children first (each child once per parent), then the module itself
    def order(desc):
        out, seen = [], set()
        for _, child in desc.children:
            if id(child) not in seen:
                seen.add(id(child))
                out += order(child)
        return out + [id(desc)]
    module_of = {id(modules[id(d)]): id(d) for d in made}
    visited = []
    assert model.apply(lambda m: visited.append(module_of[id(m)])) is model
    assert visited == order(root)

    # requires_grad_ on a sub-module: its parameters (and weights tied to them) only
    sub = data.draw(st.sampled_from(paths))
    frozen = {token for _, token in expected_named_members(descs[sub], "params")}
    model.get_submodule(sub).requires_grad_(False)
    for p in model.parameters():
        assert p.requires_grad == (tokens[id(p)] not in frozen)
    model.requires_grad_()

    # zero_grad: every gradient to None, or to zeros cut from any graph (PyTorch detaches
    # a gradient made with create_graph=True, and zeroes a plain one in place)
    grads, graphed = {}, set()
    for p in model.parameters():
        if data.draw(st.booleans(), label="create_graph"):
            p.grad = tg.ones(p.shape, requires_grad=True) * 2  # has a grad_fn
            graphed.add(id(p))
        else:
            p.grad = tg.ones(p.shape)
        grads[id(p)] = p.grad
    set_to_none = data.draw(st.booleans())
    model.zero_grad(set_to_none=set_to_none)
    for p in model.parameters():
        if set_to_none:
            assert p.grad is None
        else:
            assert not p.grad.numpy().any()
            assert p.grad.grad_fn is None and not p.grad.requires_grad
            assert id(p) in graphed or p.grad is grads[id(p)]

    # to(dtype) / half() / double(): floating tensors only, the same objects
    before = {id(t): t for _, t in model.named_parameters()} | \
        {id(t): t for _, t in model.named_buffers()}
    for cast, dtype in ((model.half, tg.float16), (model.double, tg.float64),
                        (lambda: model.to(tg.float32), tg.float32)):
        assert cast() is model
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            assert id(t) in before
            is_int = name.endswith(("num_batches_tracked", "count"))
            assert t.dtype == (tg.int64 if is_int else dtype), name
    with pytest.raises(TypeError):
        model.to(tg.int32)


# ------------------------------------------------------ registration rules (stateful)

register_ops = st.lists(st.tuples(
    st.sampled_from(["register_parameter", "register_buffer", "add_module", "set_param",
                     "set_module", "set_tensor", "set_none", "set_plain", "delete"]),
    st.sampled_from(["w", "b", "c", "x"]), st.sampled_from(["", "forward", "a.b", None]),
    st.booleans(), st.booleans()), max_size=14)


@fuzz
@given(register_ops)
def test_registration_follows_pytorchs_setattr_and_register_rules(ops):
    """A model of torch.nn.Module's registries: one OrderedDict each for parameters,
    buffers and modules, a set of non-persistent buffers and plain attributes.
    ``register_*`` refuses '' and dotted names (KeyError), non-strings (TypeError) and a
    name used by anything else (KeyError "attribute ... already exists"); re-registering
    or assigning keeps an entry's place; assigning a Parameter / Module moves the name
    to that registry (at its end); a Tensor or None replaces a registered value (a
    Tensor for a parameter is a TypeError)."""
    module = nn.Module()
    params, buffers, modules, plain, transient = {}, {}, {}, {}, set()

    def forget(name, keep=None):
        for registry in (params, buffers, modules, plain):
            if registry is not keep:
                registry.pop(name, None)
        transient.discard(name)

    for op, name, odd, none, persistent in ops:
        if op in ("register_parameter", "register_buffer", "add_module"):
            target = odd if odd is not None and none else name
            value = None if (none and odd is None) else {
                "register_parameter": lambda: nn.Parameter(tg.randn(2)),
                "register_buffer": lambda: tg.randn(2),
                "add_module": lambda: nn.Identity()}[op]()
            own = {"register_parameter": params, "register_buffer": buffers,
                   "add_module": modules}[op]
            args = (target, value, persistent) if op == "register_buffer" else (target, value)
            if target in ("", "a.b"):
                with pytest.raises(KeyError):
                    getattr(module, op)(*args)
                continue
            used = (target == "forward" or target in plain or
                    any(target in r for r in (params, buffers, modules) if r is not own))
            if used:
                with pytest.raises(KeyError, match="already exists"):
                    getattr(module, op)(*args)
                continue
            getattr(module, op)(*args)
            forget(target, keep=own)
            own[target] = value
            if op == "register_buffer" and not persistent:
                transient.add(target)
        elif op == "set_param":
            value = nn.Parameter(tg.randn(1))
            setattr(module, name, value)
            forget(name, keep=params)
            params[name] = value
        elif op == "set_module":
            value = nn.Identity()
            setattr(module, name, value)
            forget(name, keep=modules)
            modules[name] = value
        elif op == "set_tensor":
            value = tg.randn(3)
            if name in params:
                with pytest.raises(TypeError):
                    setattr(module, name, value)
                continue
            if name in modules:
                with pytest.raises(TypeError):
                    setattr(module, name, value)
                continue
            setattr(module, name, value)
            (buffers if name in buffers else plain)[name] = value  # a buffer keeps its place
        elif op == "set_none":
            setattr(module, name, None)
            for registry in (params, buffers, modules, plain):
                if name in registry:
                    registry[name] = None
                    break
            else:
                plain[name] = None
        elif op == "set_plain":
            value = 7
            if name in params or name in buffers or name in modules:
                with pytest.raises(TypeError):
                    setattr(module, name, value)
                continue
            setattr(module, name, value)
            plain[name] = value
        else:
            if not any(name in r for r in (params, buffers, modules, plain)):
                with pytest.raises(AttributeError):
                    delattr(module, name)
                continue
            delattr(module, name)
            forget(name)
        # the registries, in order, and what each name reads as
        assert [(n, id(p)) for n, p in module.named_parameters(recurse=False)] == \
            [(n, id(p)) for n, p in params.items() if p is not None]
        assert [(n, id(b)) for n, b in module.named_buffers(recurse=False)] == \
            [(n, id(b)) for n, b in buffers.items() if b is not None]
        assert [(n, id(m)) for n, m in module.named_children()] == \
            [(n, id(m)) for n, m in modules.items() if m is not None]
        assert list(module.state_dict()) == \
            [n for n, p in params.items() if p is not None] + \
            [n for n, b in buffers.items() if b is not None and n not in transient]
        for registry in (params, buffers, modules, plain):
            for n, value in registry.items():
                assert getattr(module, n) is value
        for n in ("w", "b", "c", "x"):
            if not any(n in r for r in (params, buffers, modules, plain)):
                assert not hasattr(module, n)


# ----------------------------------------------------------- tied weights: gradients

@fuzz
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16), st.booleans())
def test_a_weight_shared_by_two_layers_gets_the_sum_of_both_gradients(batch, size, seed, nest):
    """y = L2(tanh(L1(x))) with L2.weight = L1.weight = W (n×n):
    dL/dW = g2ᵀ h + ((g2 W) ⊙ (1 − h²))ᵀ x, with g2 = R = dL/dy, h = tanh(x Wᵀ + b1)."""
    rng = np.random.default_rng(seed)
    first, second = nn.Linear(size, size).double(), nn.Linear(size, size).double()
    second.weight = first.weight
    model = nn.Sequential(first, nn.Tanh(), nn.Sequential(second) if nest else second)
    x = rng.standard_normal((batch, size))
    R = rng.standard_normal((batch, size))
    W, b1, b2 = (t.numpy().copy() for t in (first.weight, first.bias, second.bias))

    (model(tg.tensor(x)) * tg.tensor(R)).sum().backward()
    h = np.tanh(x @ W.T + b1)
    g1 = (R @ W) * (1 - h ** 2)
    dW = R.T @ h + g1.T @ x
    np.testing.assert_allclose(first.weight.grad.numpy(), dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(first.bias.grad.numpy(), g1.sum(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(second.bias.grad.numpy(), R.sum(0), rtol=1e-10, atol=1e-12)
    assert len(list(model.parameters())) == 3  # W, b1, b2: W once
    assert len(list(model.named_parameters(remove_duplicate=False))) == 4

    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    optimizer.step()  # W is stepped once, with the summed gradient
    np.testing.assert_allclose(first.weight.numpy(), W - 0.1 * dW, rtol=1e-10, atol=1e-12)
    assert second.weight is first.weight


@fuzz
@given(st.integers(2, 5), st.integers(1, 3), st.integers(1, 4), st.integers(0, 2**16))
def test_an_embedding_tied_to_the_output_layer(vocab, dim, length, seed):
    """Language-model tying: logits = E[idx] Eᵀ (Linear without bias, weight E (V×D)).
    dL/dE = Gᵀ X (output side, X = E[idx]) + scatter-add over idx of G E (input side)."""
    rng = np.random.default_rng(seed)
    embedding, output = nn.Embedding(vocab, dim).double(), nn.Linear(dim, vocab, bias=False)
    output.weight = embedding.weight
    model = nn.Sequential(embedding, output)
    assert list(model.state_dict()) == ["0.weight", "1.weight"]
    assert [name for name, _ in model.named_parameters()] == ["0.weight"]
    idx = rng.integers(0, vocab, size=length)
    G = rng.standard_normal((length, vocab))
    E = embedding.weight.numpy().copy()
    (model(tg.tensor(idx)) * tg.tensor(G)).sum().backward()
    X = E[idx]
    expected = G.T @ X
    np.add.at(expected, idx, G @ E)
    np.testing.assert_allclose(embedding.weight.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------- hooks

class Affine(nn.Module):
    def __init__(self):
        super().__init__()
        self.fail = False

    def forward(self, x, b=0.0):
        if self.fail:
            raise ValueError("forward failed")
        return x * 2 + b


hook_specs = st.lists(st.tuples(st.sampled_from(["pre", "post"]), st.booleans(), st.booleans(),
                                st.booleans(), st.sampled_from([None, 0.25, -1.0, 2.0])),
                      max_size=6)


@fuzz
@given(hook_specs, st.data())
def test_forward_hooks_follow_pytorchs_call_impl(specs, data):
    """Pre-hooks change x (plain) or the keyword b (with_kwargs); forward gives 2x + b;
    forward hooks add to the output. ``prepend`` puts a hook first. An error (in a
    pre-hook, forward or a forward hook) runs the always_call forward hooks that have not
    run yet, with the arguments and the output as far as they got, then goes on."""
    module = Affine()
    log = []
    pre_order, post_order = [], []
    for number, (kind, with_kwargs, prepend, always, add) in enumerate(specs):
        name = f"{kind}{number}"
        if kind == "pre":
            def hook(m, args, *rest, name=name, add=add, with_kwargs=with_kwargs):
                kwargs = rest[0] if with_kwargs else None
                log.append((name, float(args[0].item()), None if kwargs is None else
                            kwargs.get("b")))
                if name == fault:
                    raise RuntimeError(name)
                if add is None:
                    return None
                if with_kwargs:
                    return args, {**kwargs, "b": kwargs.get("b", 0.0) + add}
                return args[0] + add  # a single value: wrapped into a 1-tuple
            module.register_forward_pre_hook(hook, prepend=prepend, with_kwargs=with_kwargs)
            (pre_order.insert(0, number) if prepend else pre_order.append(number))
        else:
            def hook(m, args, *rest, name=name, add=add, with_kwargs=with_kwargs):
                output = rest[-1]
                log.append((name, float(args[0].item()),
                            rest[0].get("b") if with_kwargs else None,
                            None if output is None else float(output.item())))
                if name == fault:
                    raise RuntimeError(name)
                return None if add is None or output is None else output + add
            module.register_forward_hook(hook, prepend=prepend, with_kwargs=with_kwargs,
                                         always_call=always)
            (post_order.insert(0, number) if prepend else post_order.append(number))
    fault = data.draw(st.sampled_from([None, "forward"] + [f"{k}{i}" for i, (k, *_)
                                                            in enumerate(specs)]))
    module.fail = fault == "forward"

    # PyTorch's _call_impl, transcribed over the specs
    expected, ran = [], set()
    x, b, result = 1.0, 0.5, None
    try:
        for i in pre_order:
            _, with_kwargs, _, _, add = specs[i]
            expected.append((f"pre{i}", x, b if with_kwargs else None))
            if f"pre{i}" == fault:
                raise RuntimeError
            if add is not None:
                if with_kwargs:
                    b += add
                else:
                    x += add
        if fault == "forward":
            raise RuntimeError
        result = 2 * x + b
        for i in post_order:
            _, with_kwargs, _, always, add = specs[i]
            if always:
                ran.add(i)
            expected.append((f"post{i}", x, b if with_kwargs else None, result))
            if f"post{i}" == fault:
                raise RuntimeError
            if add is not None:
                result += add
        raised = False
    except RuntimeError:
        raised = True
        for i in post_order:
            _, with_kwargs, _, always, add = specs[i]
            if always and i not in ran:
                expected.append((f"post{i}", x, b if with_kwargs else None, result))
                if add is not None and result is not None:
                    result += add

    x_in = tg.tensor([1.0], dtype=tg.float64)
    if raised:
        with pytest.raises((RuntimeError, ValueError)):
            module(x_in, b=0.5)
    else:
        assert module(x_in, b=0.5).item() == result
    assert log == expected


@fuzz
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16),
       st.lists(st.sampled_from([1.0, 0.5, -2.0, None]), min_size=4, max_size=4))
def test_backward_hooks_see_and_scale_the_chain_rule(batch, n, m, seed, scales):
    """Sequential(L1, Tanh, L2), L = Σ y·R. A full backward pre-hook on Li multiplies its
    grad_output by s_pre_i, a full backward hook multiplies its grad_input by s_i; both
    see the values of the NumPy chain rule, and the parameter gradients use the scaled
    grad_output (a full hook changes only what flows on to the input)."""
    rng = np.random.default_rng(seed)
    l1, l2 = nn.Linear(n, m).double(), nn.Linear(m, n).double()
    model = nn.Sequential(l1, nn.Tanh(), l2)
    pre1, full1, pre2, full2 = scales
    seen = {}

    def pre_hook(key, s):
        def hook(module, grad_output):
            seen[key] = grad_output[0].numpy().copy()
            return (grad_output[0] * s,)
        return hook

    def full_hook(key, s):
        def hook(module, grad_input, grad_output):
            seen[key] = (grad_input[0].numpy().copy(), grad_output[0].numpy().copy())
            return (grad_input[0] * s,)
        return hook

    for layer, pre, full, key in ((l1, pre1, full1, "1"), (l2, pre2, full2, "2")):
        if pre is not None:
            layer.register_full_backward_pre_hook(pre_hook("pre" + key, pre))
        if full is not None:
            layer.register_full_backward_hook(full_hook("full" + key, full))
    x = rng.standard_normal((batch, n))
    R = rng.standard_normal((batch, n))
    W1, b1, W2 = (t.numpy().copy() for t in (l1.weight, l1.bias, l2.weight))
    xt = tg.tensor(x, requires_grad=True)
    (model(xt) * tg.tensor(R)).sum().backward()

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    h = np.tanh(x @ W1.T + b1)
    g2 = R * (1.0 if pre2 is None else pre2)
    if pre2 is not None:
        close(seen["pre2"], R)
    dh = g2 @ W2
    if full2 is not None:
        close(seen["full2"][0], dh)
        close(seen["full2"][1], g2)
        dh = dh * full2
    close(l2.weight.grad.numpy(), g2.T @ h)
    close(l2.bias.grad.numpy(), g2.sum(0))
    g1 = dh * (1 - h ** 2)
    if pre1 is not None:
        close(seen["pre1"], g1)
        g1 = g1 * pre1
    dx = g1 @ W1
    if full1 is not None:
        close(seen["full1"][0], dx)
        close(seen["full1"][1], g1)
        dx = dx * full1
    close(l1.weight.grad.numpy(), g1.T @ x)
    close(l1.bias.grad.numpy(), g1.sum(0))
    close(xt.grad.numpy(), dx)


# -------------------------------------------------------------------------- containers

container_ops = st.lists(st.tuples(st.sampled_from(["append", "insert", "extend", "del", "delslice",
                                                    "pop", "set", "iadd"]),
                                   st.integers(-4, 4), st.integers(-4, 4), st.integers(0, 2)),
                         max_size=8)


@fuzz
@given(container_ops, st.booleans())
def test_sequential_and_module_list_edit_like_a_list(ops, sequential):
    """Every edit gives the list's order and the names '0', '1', ...; slicing a
    Sequential keeps the original names (PyTorch builds it from an OrderedDict), a
    ModuleList slice is numbered from 0. The Sequential's forward composes in order."""
    pool = [nn.Linear(2, 2).double() for _ in range(6)]
    cls = nn.Sequential if sequential else nn.ModuleList
    container = cls(*pool[:2]) if sequential else cls(pool[:2])
    model = list(pool[:2])
    fresh = iter(pool[2:] * 10)
    for op, i, j, count in ops:
        n = len(model)
        if op == "append":
            module = next(fresh)
            container.append(module)
            model.append(module)
        elif op == "insert":
            if not -n <= i <= n:
                continue
            module = next(fresh)
            container.insert(i, module)
            model.insert(i, module)
        elif op in ("extend", "iadd"):
            modules = [next(fresh) for _ in range(count)]
            if op == "extend":
                container.extend(modules)
            else:
                container += cls(*modules) if sequential else modules
            model.extend(modules)
        elif op == "del":
            if not -n <= i < n:
                with pytest.raises(IndexError):
                    del container[i]
                continue
            del container[i]
            del model[i]
        elif op == "delslice":
            del container[i:j]
            del model[i:j]
        elif op == "pop":
            if not -n <= i < n:
                continue
            assert container.pop(i) is model.pop(i)
        elif op == "set":
            if not -n <= i < n:
                continue
            module = next(fresh)
            container[i] = module
            model[i] = module
        assert len(container) == len(model)
        assert [m for m in container] == model  # identity (Module has no __eq__)
        names = [name for name, _ in container.named_modules(remove_duplicate=False)][1:]
        assert names == [str(k) for k in range(len(model))]
        assert list(container.state_dict()) == [f"{k}.{p}" for k in range(len(model))
                                                for p in ("weight", "bias")]
    for i in range(-len(model), len(model)):
        assert container[i] is model[i]
    piece = container[1:3]
    assert isinstance(piece, cls) and list(piece) == model[1:3]
    want_names = [str(k) for k in range(1, 1 + len(model[1:3]))] if sequential else \
        [str(k) for k in range(len(model[1:3]))]
    assert [name for name, _ in piece.named_modules(remove_duplicate=False)][1:] == want_names
    if sequential and model:
        x = np.arange(4.0).reshape(2, 2)
        want = x
        for layer in model:
            want = want @ layer.weight.numpy().T + layer.bias.numpy()
        np.testing.assert_allclose(container(tg.tensor(x)).numpy(), want, rtol=1e-12)


dict_ops = st.lists(st.tuples(st.sampled_from(["set", "del", "pop", "update"]),
                              st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 3)),
                    max_size=10)


@fuzz
@given(dict_ops, st.booleans())
def test_module_dict_and_parameter_dict_edit_like_a_dict(ops, modules):
    """Insertion order is kept; replacing a key keeps its place; deleting forgets it."""
    def value():
        return nn.Linear(1, 1) if modules else nn.Parameter(tg.randn(1))
    container = nn.ModuleDict() if modules else nn.ParameterDict()
    model: dict = {}
    for op, key, count in ops:
        if op == "set":
            v = value()
            container[key] = v
            model[key] = v
        elif op in ("del", "pop"):
            if key not in model:
                with pytest.raises(KeyError):
                    del container[key]
                continue
            if op == "del":
                del container[key]
                del model[key]
            else:
                assert container.pop(key) is model.pop(key)
        else:
            pairs = [(k, value()) for k in ["c", "a", "d"][:count]]
            container.update(pairs)
            model.update(pairs)
        assert list(container.keys()) == list(model)
        assert all(container[k] is v for k, v in model.items())
        assert len(container) == len(model) and all(k in container for k in model)
        expected = ([f"{k}.{p}" for k in model for p in ("weight", "bias")] if modules
                    else list(model))
        assert list(container.state_dict()) == expected


@fuzz
@given(st.lists(st.tuples(st.sampled_from(["append", "set", "extend"]), st.integers(-3, 3)),
                max_size=8))
def test_parameter_list_edits_like_a_list(ops):
    plist = nn.ParameterList()
    model = []
    for op, i in ops:
        if op == "append":
            t = tg.randn(2)
            plist.append(t)  # a plain Tensor becomes a Parameter sharing its array
            model.append(t)
        elif op == "extend":
            ts = [nn.Parameter(tg.randn(1)), tg.randn(3)]
            plist.extend(ts)
            model.extend(ts)
        else:
            if not -len(model) <= i < len(model):
                with pytest.raises(IndexError):
                    plist[i] = tg.randn(1)
                continue
            t = nn.Parameter(tg.randn(2))
            plist[i] = t
            model[i] = t
        assert len(plist) == len(model)
        for p, t in zip(plist, model):
            assert isinstance(p, nn.Parameter) and p.requires_grad
            assert p is t if isinstance(t, nn.Parameter) else np.shares_memory(p.data, t.data)
        assert list(plist.state_dict()) == [str(k) for k in range(len(model))]


# ------------------------------------------------------------------------- deep copies

@fuzz
@given(st.integers(0, 2**16), st.booleans())
def test_a_deep_copy_trains_independently_and_keeps_its_ties(seed, tie):
    rng = np.random.default_rng(seed)
    tg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 3))
    if tie:
        model[3].weight = model[0].weight
    clone = copy.deepcopy(model)
    assert all(a is not b for a, b in zip(model.parameters(), clone.parameters()))
    assert (clone[3].weight is clone[0].weight) == tie
    start = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    x = tg.tensor(rng.standard_normal((5, 3)), dtype=tg.float32)
    y = tg.tensor(rng.standard_normal((5, 3)), dtype=tg.float32)

    def train(net, steps):
        optimizer = tg.optim.Adam(net.parameters(), lr=0.05)
        losses = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    clone_losses = train(clone, 3)
    for key, value in model.state_dict().items():  # the original did not move
        np.testing.assert_array_equal(value.numpy(), start[key])
        assert model.state_dict()[key] is not None
    assert all(p.grad is None for p in model.parameters())
    assert train(model, 3) == clone_losses  # the same start gives the same run
    for (key, a), b in zip(model.state_dict().items(), clone.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ------------------------------------------------------------------------- checkpoints

def numpy_arrays():
    dtypes = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int32, np.int64,
                              np.uint8, np.bool_, np.complex64])
    shapes = st.lists(st.integers(0, 3), max_size=3).map(tuple)

    def make(args):
        dtype, shape, seed, fortran = args
        rng = np.random.default_rng(seed)
        raw = rng.standard_normal(shape) * 100
        raw.flat[: min(raw.size, 2)] = [np.nan, -0.0][: min(raw.size, 2)]
        array = (raw if np.dtype(dtype).kind in "fc" else np.nan_to_num(raw)).astype(dtype)
        return np.asfortranarray(array) if fortran else array
    return st.tuples(dtypes, shapes, st.integers(0, 2**16), st.booleans()).map(make)


def tensors():
    def make(args):
        array, requires_grad = args
        wants = requires_grad and array.dtype.kind == "f"
        return tg.tensor(np.ascontiguousarray(array), requires_grad=wants)
    return st.tuples(numpy_arrays().filter(lambda a: a.dtype.kind != "c"),
                     st.booleans()).map(make)


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
    numpy_arrays(), tensors(),
    st.sampled_from([np.float16(1.5), np.int8(-3), np.bool_(True), np.float64(-0.0),
                     np.complex128(1 - 2j), np.uint64(2**64 - 1)]))
payloads = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(-3, 3)), inner,
                        max_size=3)),
    max_leaves=12)


def assert_same(got, want, device="cpu", where="obj"):
    """Bit-exact: types, dtypes, shapes, bytes (NaN, -0.0), requires_grad, devices."""
    if isinstance(want, tg.Tensor):
        assert isinstance(got, tg.Tensor) and got.device == device, where
        assert got.dtype == want.dtype and got.shape == want.shape, where
        assert got.requires_grad == want.requires_grad and got.is_leaf, where
        assert got.numpy().tobytes() == want.numpy().tobytes(), where
    elif isinstance(want, np.ndarray):
        assert type(got) is np.ndarray and got.dtype == want.dtype, where
        assert got.shape == want.shape, where
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes(), where
    elif isinstance(want, np.generic):
        assert type(got) is type(want) and got.tobytes() == want.tobytes(), where
    elif isinstance(want, float):
        assert type(got) is float, where
        assert (math.isnan(got) and math.isnan(want)) or (
            got == want and math.copysign(1, got) == math.copysign(1, want)), where
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want)):
            assert_same(a, b, device, f"{where}[{i}]")
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want), where
        assert [type(k) for k in got] == [type(k) for k in want], where
        for key in want:
            assert_same(got[key], want[key], device, f"{where}[{key!r}]")
    else:
        assert type(got) is type(want) and got == want, where


@fuzz
@given(payloads)
def test_random_payloads_round_trip_bit_exactly(tmp_path_factory, device, payload):
    path = tmp_path_factory.mktemp("ckpt") / "payload.bin"
    tg.save(payload, path)
    assert_same(tg.load(path), payload)
    loaded = tg.load(str(path), map_location=device)
    assert_same(loaded, payload, device)
    # weights_only changes nothing (loading never unpickles), and saving what was
    # loaded writes the same tree again
    assert_same(tg.load(path, weights_only=True), payload)
    tg.save(tg.load(path), path)
    assert_same(tg.load(path), payload)


@fuzz
@given(payloads, st.sampled_from(["savez", "fsync", "chmod", "replace"]),
       st.sampled_from([OSError, KeyboardInterrupt, RuntimeError]), st.integers(0, 400))
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path_factory, monkeypatch, payload,
                                                      stage, error, cut):
    directory = tmp_path_factory.mktemp("crash")
    path = directory / "model.ckpt"
    good = {"epoch": 1, "w": tg.tensor([1.0, 2.0])}
    tg.save(good, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise error("simulated failure")

    if stage == "savez":
        real = np.savez

        def partial(file, **arrays):
            buffer = io.BytesIO()
            real(buffer, **arrays)
            file.write(buffer.getvalue()[:cut])
            raise error("simulated failure")
        monkeypatch.setattr(serialization.np, "savez", partial)
    else:
        monkeypatch.setattr(serialization.os, stage, fail)
    with pytest.raises(error):
        tg.save(payload, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(directory) == ["model.ckpt"]  # no temporary file left behind
    assert_same(tg.load(path), good)


@fuzz
@given(payloads, st.data())
def test_a_damaged_checkpoint_is_refused_or_reads_back_unchanged(tmp_path_factory, payload,
                                                                 data):
    """Flipped bytes or a cut: CheckpointError naming the file, or (a byte no reader
    uses, such as a zip timestamp) exactly the saved payload; never other values."""
    path = tmp_path_factory.mktemp("damage") / "model.ckpt"
    tg.save(payload, path)
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 3))):
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] ^= data.draw(st.integers(1, 255))
    path.write_bytes(bytes(raw))
    try:
        loaded = tg.load(path)
    except CheckpointError as refused:
        assert str(path) in str(refused)
    else:
        assert_same(loaded, payload)


class _Boom:
    ran = False

    def __reduce__(self):
        return (_Boom._explode, ())

    @staticmethod
    def _explode():
        _Boom.ran = True
        return "exploded"


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_crafted_pickle_or_object_array_never_runs(tmp_path, protocol):
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"w": _Boom()}, protocol=protocol))
    with pytest.raises(CheckpointError, match="evil.ckpt"):
        tg.load(path)
    # an .npz whose structure refers to a pickled object array
    tg.save({"w": tg.tensor([1.0])}, path)
    with np.load(path) as archive:
        members = {name: archive[name] for name in archive.files}
    members["a0"] = np.array([_Boom()], dtype=object)
    with open(path, "wb") as file:  # (np.savez would append .npz to a path)
        np.savez(file, **members)
    with pytest.raises(CheckpointError, match="never unpickles"):
        tg.load(path)
    assert not _Boom.ran
    with pytest.raises(FileNotFoundError, match="nope"):
        tg.load(tmp_path / "nope.ckpt")


OPTIMIZERS = {
    "SGD": lambda p, lr: tg.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": lambda p, lr: tg.optim.Adam(p, lr=lr, amsgrad=True),
    "AdamW": lambda p, lr: tg.optim.AdamW(p, lr=lr, betas=(0.8, 0.95)),
    "RMSprop": lambda p, lr: tg.optim.RMSprop(p, lr=lr, centered=True, momentum=0.5),
    "Adagrad": lambda p, lr: tg.optim.Adagrad(p, lr=lr),
    "NAdam": lambda p, lr: tg.optim.NAdam(p, lr=lr),
    "RAdam": lambda p, lr: tg.optim.RAdam(p, lr=lr),
    "Rprop": lambda p, lr: tg.optim.Rprop(p, lr=lr),
}


@fuzz
@given(st.sampled_from(sorted(OPTIMIZERS)), st.integers(0, 3), st.integers(1, 3),
       st.sampled_from([0.01, 0.1]), st.integers(0, 2**16), st.booleans())
def test_training_resumed_from_a_checkpoint_continues_identically(tmp_path_factory, device,
                                                                  name, before, after, lr,
                                                                  seed, tie):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 3)).astype(np.float32)
    y = rng.standard_normal((6, 3)).astype(np.float32)

    def fresh():
        tg.manual_seed(seed)
        model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 3))
        if tie:
            model[3].weight = model[0].weight
        model.to(device)
        optimizer = OPTIMIZERS[name](model.parameters(), lr)
        scheduler = tg.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        return model, optimizer, scheduler

    def run(model, optimizer, scheduler, steps):
        losses = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = ((model(tg.tensor(x, device=device)) - tg.tensor(y, device=device)) ** 2
                    ).mean()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        return losses

    model, optimizer, scheduler = fresh()
    run(model, optimizer, scheduler, before)
    path = tmp_path_factory.mktemp("resume") / "run.ckpt"
    tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": before}, path)
    want = run(model, optimizer, scheduler, after)

    tg.manual_seed(seed + 1)  # a different start: everything must come from the file
    model2, optimizer2, scheduler2 = fresh()
    for p in model2.parameters():
        p.data = p.data * 0 + 3
    state = tg.load(path, map_location=device)
    assert state["epoch"] == before
    assert model2.load_state_dict(state["model"]).missing_keys == []
    optimizer2.load_state_dict(state["optimizer"])
    scheduler2.load_state_dict(state["scheduler"])
    assert run(model2, optimizer2, scheduler2, after) == want
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert a.numpy().tobytes() == b.numpy().tobytes()
