"""Randomised (hypothesis) checks of tinygrad_opt/viz.py.

* ``graph_dot`` on random graphs from random op sequences (elementwise ops, ops with a Python
  number, matmul, sums, max, mean, reshapes, permutes, indexing, a tensor used twice, several
  leaves, leaves without grad, tensors made under ``no_grad`` or detached). A small DOT parser
  written here (the DOT lexer's rules: IDs, quoted strings with ``\\"``, statements ending in
  ``;``) reads the text, and its graph must be the graph of the ops the test applied, node for
  node and edge for edge (a one-to-one map found by search, not through the node ids): ops as
  boxes with the op's name, tensors as ovals labelled with their shape (``2x3``, ``scalar``),
  leaves ``leaf, requires_grad`` (filled) or ``constant``, one edge from each input to its op
  and one from the op to its output, no node declared twice. The backward graph of
  ``create_graph=True`` against a walk of ``grad_fn.inputs`` written here; the same text after
  a ``retain_graph`` backward, a lone gray ``Op (freed)`` box after a plain one. Graph names
  and custom ops' names with quotes, backslashes and line breaks read back unchanged; a
  non-Tensor raises TypeError naming its type.
* The plotting helpers (matplotlib, Agg; skipped without it) on random lists, tuples, NumPy
  arrays, Tensors and lists of Tensors on the host and the test device, with NaN, inf, zeros,
  empty series and single points: each writes a PNG that matplotlib reads back, returns the
  path, leaves pyplot's figures as they were, and draws what its docstring says (the data of
  every line, bar and histogram, axis labels, panels, log scales, titles, contour levels).
  Edge values that used to fail deep inside matplotlib or NumPy (one huge or an infinite
  weight in a histogram, bars all NaN/inf on a log axis, no steps yet, a flat surface) plot.
  Bad input (one number as a series, names of the wrong length, points not (T, 2), labels
  not matching points, no ylabel / xlabel / bounds, a sequence among bar heights) raises
  ValueError naming what was wrong, and writes no file.

``VIZ_FUZZ_EXAMPLES=N`` draws N examples per test (default 5);
``HYPOTHESIS_PROFILE=explore`` draws new ones.
"""

import itertools
import math
import operator
import os
import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import nn, viz
from tinygrad_opt.datasets import rosenbrock, saddle
from tinygrad_opt.train import History
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("VIZ_FUZZ_EXAMPLES", 5)
fuzz = fuzz_settings(EXAMPLES)
fuzz_graphs = fuzz_settings(10 * EXAMPLES)     # graph_dot takes milliseconds: draw more graphs

# the host and the conftest's other device ('strict' on CI; TINYGRAD_OPT_TEST_DEVICE=cuda)
DEVICES = st.sampled_from(["cpu", os.environ.get("TINYGRAD_OPT_TEST_DEVICE", "strict")])
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),      # exp/log of random data, NaN
    pytest.mark.filterwarnings("ignore:Data has no positive values:UserWarning"),  # log axes
    pytest.mark.filterwarnings("ignore:No artists with labels:UserWarning"),  # nothing drawn
]


# --- a DOT reader ------------------------------------------------------------------------------

KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}
TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<arrow>->)
  | (?P<punct>[{}\[\];=,])
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<word>[A-Za-z_][A-Za-z_0-9]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))
""", re.VERBOSE | re.DOTALL)


def unescape(body: str) -> str:
    """The text of a quoted DOT string: ``\\"`` is a quote (the lexer), and in a label
    ``\\\\`` a backslash and ``\\n`` a line break (Graphviz's escString)."""
    out, index = [], 0
    while index < len(body):
        if body[index] == "\\" and index + 1 < len(body):
            follower = body[index + 1]
            out.append({'"': '"', "\\": "\\", "n": "\n"}.get(follower, "\\" + follower))
            index += 2
        else:
            out.append(body[index])
            index += 1
    return "".join(out)


def tokenize(text: str) -> list:
    """[(kind, value, quoted)]: kind 'id' for IDs and quoted strings, else the punctuation."""
    tokens, position = [], 0
    while position < len(text):
        match = TOKEN.match(text, position)
        assert match, f"not DOT at {position}: {text[position:position + 40]!r}"
        position = match.end()
        if match["quoted"]:
            tokens.append(("id", unescape(match["quoted"][1:-1]), True))
        elif match["word"]:
            tokens.append(("id", match["word"], False))
        elif match["arrow"] or match["punct"]:
            tokens.append((match.group(), match.group(), False))
    return tokens


def parse_dot(text: str) -> dict:
    """``{'name', 'nodes': {id: attrs}, 'edges': [(source, target)]}`` of a digraph whose
    statements all end in ``;``; asserts that no node or attribute is given twice."""
    tokens = tokenize(text)
    position = 0

    def take(kind: str, word: bool = False):
        nonlocal position
        assert position < len(tokens), f"the text ends where {kind} is due"
        token = tokens[position]
        assert token[0] == kind, f"expected {kind}, got {token[1]!r} (token {position})"
        assert not word or token[2] or token[1].lower() not in KEYWORDS, token
        position += 1
        return token[1]

    def peek():
        return tokens[position][0] if position < len(tokens) else None

    def attributes() -> dict:
        found = {}
        take("[")
        while peek() != "]":
            key = take("id")
            take("=")
            assert key not in found, f"attribute {key} given twice"
            found[key] = take("id")
            if peek() in (",", ";"):
                take(peek())
        take("]")
        return found

    assert take("id").lower() == "digraph"
    name = take("id", word=True)
    take("{")
    nodes, edges = {}, []
    while peek() != "}":
        first = take("id")
        if not tokens[position - 1][2] and first.lower() in ("node", "edge", "graph"):
            attributes()
        elif peek() == "=":
            take("=")
            take("id")
        elif peek() == "->":
            take("->")
            edges.append((first, take("id", word=True)))
            if peek() == "[":
                attributes()
        else:
            assert first.lower() not in KEYWORDS or tokens[position - 1][2], first
            assert first not in nodes, f"node {first} declared twice"
            nodes[first] = attributes() if peek() == "[" else {}
        take(";")
    take("}")
    assert position == len(tokens), "text after the graph's closing brace"
    return {"name": name, "nodes": nodes, "edges": edges}


def dot_graph(text: str):
    """(nodes {id: (shape, label, filled)}, edges into each node, the root) of graph_dot's
    text, after checking its form: boxes and ovals alternate along the edges, an oval has at
    most one op, an op exactly one output; the root is the one oval that feeds nothing."""
    parsed = parse_dot(text)
    nodes = {}
    for node, attrs in parsed["nodes"].items():
        assert attrs.get("shape") in ("box", "ellipse") and "label" in attrs, (node, attrs)
        filled = attrs.get("style") == "filled" and "fillcolor" in attrs
        nodes[node] = (attrs["shape"], attrs["label"], filled)
    into = {node: [] for node in nodes}
    out_of = {node: [] for node in nodes}
    for source, target in parsed["edges"]:
        assert source in nodes and target in nodes, (source, target)
        assert nodes[source][0] != nodes[target][0], "an edge joins two ops or two tensors"
        into[target].append(source)
        out_of[source].append(target)
    for node, (shape, _, _) in nodes.items():
        if shape == "box":
            assert len(out_of[node]) == 1, f"op {node} has outputs {out_of[node]}"
        else:
            assert len(into[node]) <= 1, f"tensor {node} is made by {into[node]}"
    roots = [node for node in nodes if nodes[node][0] == "ellipse" and not out_of[node]]
    assert len(roots) == 1, roots
    return nodes, into, roots[0]


def same_graph(expected: tuple, found: tuple) -> bool:
    """Whether a one-to-one map of the nodes, root to root, carries the graph ``expected``
    onto ``found``: equal (shape, label, filled) and, into every node, the same edges as often.
    Searched from the roots backward, trying each pairing of an op's inputs."""
    (e_nodes, e_into, e_root), (f_nodes, f_into, f_root) = expected, found
    if len(e_nodes) != len(f_nodes):
        return False

    def search(pending, mapping, used):
        while pending:
            (e, f), pending = pending[0], pending[1:]
            if e in mapping or f in used:
                if mapping.get(e) != f:
                    return False
                continue
            if e_nodes[e] != f_nodes[f] or len(e_into[e]) != len(f_into[f]):
                return False
            mapping, used = {**mapping, e: f}, used | {f}
            if e_into[e]:
                orders = dict.fromkeys(itertools.permutations(f_into[f]))  # text order first
                return any(search(pending + list(zip(e_into[e], order)), mapping, used)
                           for order in orders)
        return len(mapping) == len(e_nodes)

    return search([(e_root, f_root)], {}, frozenset())


def shape_label(shape) -> str:
    return "x".join(str(size) for size in shape) or "scalar"


# --- random graphs, and the graph the test expects of them ------------------------------------

class Recorder:
    """The tensors made so far, with what graph_dot should show of each: ``nodes`` {key:
    (shape, label, filled)}, ``into`` {key: [keys]}. Shapes come from NumPy twins."""

    def __init__(self):
        self.nodes, self.into = {}, {}
        self.pool = []          # [(tensor, NumPy twin, key, requires grad: the test's own rule)]
        self.recorded = []      # the entries that ops recorded
        self.keys = itertools.count()

    def leaf(self, twin, requires_grad, device):
        values = np.random.default_rng(len(self.pool)).normal(size=twin.shape)
        tensor = tg.tensor(np.asarray(values, dtype=np.float32), requires_grad=requires_grad,
                           device=device)
        return self.constant(tensor, twin, requires_grad)

    def constant(self, tensor, twin, requires_grad=False):
        """A leaf: one that requires grad, or a constant (also what no_grad and detach give)."""
        key = next(self.keys)
        kind = "leaf, requires_grad" if requires_grad else "constant"
        self.nodes[key] = ("ellipse", f"{shape_label(twin.shape)}\n{kind}", requires_grad)
        self.into[key] = []
        self.pool.append((tensor, twin, key, requires_grad))
        return self.pool[-1]

    def number(self):
        """The 0-d constant an op makes of a Python number (``x * 2.0``)."""
        key = next(self.keys)
        self.nodes[key] = ("ellipse", "scalar\nconstant", False)
        self.into[key] = []
        return key

    def op(self, name, tensor, twin, input_keys, requires_grad, pooled=True):
        """The output of op ``name`` on the inputs ``input_keys``: recorded when one of them
        requires grad, else a constant."""
        if not requires_grad:
            return self.constant(tensor, twin)
        op_key, key = next(self.keys), next(self.keys)
        self.nodes[op_key] = ("box", name, False)
        self.into[op_key] = list(input_keys)
        self.nodes[key] = ("ellipse", shape_label(twin.shape), False)
        self.into[key] = [op_key]
        entry = (tensor, twin, key, True)
        if pooled:
            self.pool.append(entry)
            self.recorded.append(entry)
        return entry

    def expected(self, root_key) -> tuple:
        """(nodes, into, root) of what ``root`` hangs on."""
        keep, stack = set(), [root_key]
        while stack:
            key = stack.pop()
            if key not in keep:
                keep.add(key)
                stack.extend(self.into[key])
        return ({key: self.nodes[key] for key in keep},
                {key: self.into[key] for key in keep}, root_key)


UNARY = {"Exp": lambda t: t.exp(), "Tanh": lambda t: t.tanh(), "Neg": lambda t: -t,
         "Sigmoid": lambda t: t.sigmoid(), "Abs": lambda t: t.abs(), "Sin": lambda t: t.sin(),
         "Relu": lambda t: t.relu(), "Clone": lambda t: t.clone()}
BINARY = {"Add": operator.add, "Sub": operator.sub, "Mul": operator.mul,
          "Div": operator.truediv}
WITH_NUMBER = {"x + 2.5": ("Add", lambda t: t + 2.5), "2.5 + x": ("Add", lambda t: 2.5 + t),
               "x * 0.5": ("Mul", lambda t: t * 0.5), "3.0 * x": ("Mul", lambda t: 3.0 * t),
               "x ** 2": ("Pow", lambda t: t ** 2)}
STEPS = ["unary", "binary", "number", "matmul", "sum", "max", "mean", "reshape", "permute",
         "index"] * 3 + ["no_grad", "detach", "leaf"]   # (fewer constants: deeper graphs)
SHAPES = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


def apply_step(draw, recorder, step, device):
    """Apply one random op to random tensors of the pool (often the newest that requires
    grad: deep graphs), and record what it should show."""
    newest = [entry for entry in recorder.pool if entry[3]][-1:]
    tensor, twin, key, grad = draw(st.sampled_from(newest * len(recorder.pool)
                                                   + recorder.pool))
    if step == "unary":
        name = draw(st.sampled_from(sorted(UNARY)))
        recorder.op(name, UNARY[name](tensor), twin, [key], grad)
    elif step == "binary":   # the other operand: one of the same shape, maybe the same tensor
        same = [entry for entry in recorder.pool if entry[1].shape == twin.shape]
        other, _, other_key, other_grad = draw(st.sampled_from(
            [(tensor, twin, key, grad)] * len(same) + same))
        name = draw(st.sampled_from(sorted(BINARY)))
        recorder.op(name, BINARY[name](tensor, other), twin, [key, other_key],
                    grad or other_grad)
    elif step == "number":
        name, function = WITH_NUMBER[draw(st.sampled_from(sorted(WITH_NUMBER)))]
        result = function(tensor)
        recorder.op(name, result, twin, [key, recorder.number()] if grad else [], grad)
    elif step == "matmul":
        if twin.ndim != 2:
            return
        columns = draw(st.integers(1, 3))
        fits = [entry for entry in recorder.pool if entry[1].shape == (twin.shape[1], columns)]
        if not fits or draw(st.booleans()):
            fits = [recorder.leaf(np.zeros((twin.shape[1], columns)), draw(st.booleans()),
                                  device)]
        other, other_twin, other_key, other_grad = draw(st.sampled_from(fits))
        recorder.op("MatMul", tensor @ other, twin @ other_twin, [key, other_key],
                    grad or other_grad)
    elif step == "sum":
        if twin.ndim and draw(st.booleans()):
            dim, keepdim = draw(st.integers(-twin.ndim, twin.ndim - 1)), draw(st.booleans())
            recorder.op("Sum", tensor.sum(dim, keepdim=keepdim),
                        twin.sum(axis=dim, keepdims=keepdim), [key], grad)
        else:
            recorder.op("Sum", tensor.sum(), twin.sum(), [key], grad)
    elif step == "max":
        recorder.op("Max", tensor.max(), twin.max(), [key], grad)
    elif step == "mean":   # a composition: Sum, then Div by the count (a number)
        if grad:
            total = recorder.op("Sum", None, twin.sum(), [key], grad, pooled=False)
            recorder.op("Div", tensor.mean(), twin.sum(), [total[2], recorder.number()], grad)
        else:
            recorder.constant(tensor.mean(), twin.sum())
    elif step == "reshape":
        new = draw(st.permutations(list(twin.shape) + [1] * draw(st.integers(0, 1))))
        recorder.op("Reshape", tensor.reshape(tuple(new)), twin.reshape(new), [key], grad)
    elif step == "permute":
        if twin.ndim == 0:
            return
        order = draw(st.permutations(range(twin.ndim)))
        recorder.op("Permute", tensor.permute(*order), twin.transpose(order), [key], grad)
    elif step == "index":
        if twin.ndim == 0:
            return
        index = draw(st.integers(-twin.shape[0], twin.shape[0] - 1))
        recorder.op("GetItem", tensor[index], twin[index], [key], grad)
    elif step == "no_grad":
        with tg.no_grad():
            recorder.constant(tensor * 2.0, twin)
    elif step == "detach":
        recorder.constant(tensor.detach(), twin)
    else:
        recorder.leaf(np.zeros(draw(SHAPES)), draw(st.booleans()), device)


@st.composite
def graphs(draw, max_steps=10):
    """(Recorder, root tensor, root key): leaves, then random ops; the root is mostly the
    last output an op recorded, now and then any tensor (a leaf, a constant)."""
    recorder = Recorder()
    device = draw(DEVICES)
    for index in range(draw(st.integers(1, 3))):   # the first requires grad, others may not
        recorder.leaf(np.zeros(draw(SHAPES)), index == 0 or draw(st.booleans()), device)
    for _ in range(draw(st.integers(1, max_steps))):
        apply_step(draw, recorder, draw(st.sampled_from(STEPS)), device)
    root = draw(st.sampled_from(recorder.recorded[-1:] * 2 * len(recorder.pool)
                                + recorder.pool))
    return recorder, root[0], root[2]


# --- graph_dot ---------------------------------------------------------------------------------

@fuzz_graphs
@given(graphs())
def test_graph_dot_draws_the_ops_that_were_applied(graph):
    recorder, root, root_key = graph
    text = viz.graph_dot(root)
    found = dot_graph(text)
    assert parse_dot(text)["name"] == "graph"
    expected = recorder.expected(root_key)
    assert same_graph(expected, found), f"{text}\nexpected {expected}"


def walk(root) -> tuple:
    """What graph_dot should show, read off ``grad_fn`` and its ``inputs`` (the oracle for
    graphs the test did not build itself, such as a backward recorded by create_graph)."""
    nodes, into, stack = {}, {}, [root]
    while stack:
        tensor = stack.pop()
        key = ("tensor", id(tensor))
        if key in nodes:
            continue
        function = tensor.grad_fn
        if function is None:
            kind = "leaf, requires_grad" if tensor.requires_grad else "constant"
            nodes[key] = ("ellipse", f"{shape_label(tensor.shape)}\n{kind}",
                          tensor.requires_grad)
            into[key] = []
            continue
        nodes[key] = ("ellipse", shape_label(tensor.shape), False)
        into[key] = [("op", id(function))]
        nodes[("op", id(function))] = ("box", function.name, False)
        into[("op", id(function))] = [("tensor", id(x)) for x in function.inputs]
        stack.extend(function.inputs)
    return nodes, into, ("tensor", id(root))


@fuzz_graphs
@given(graphs(max_steps=6))
def test_graph_dot_of_a_create_graph_gradient(graph):
    recorder, root, _ = graph
    leaves = [entry[0] for entry in recorder.pool
              if entry[3] and recorder.nodes[entry[2]][0] == "ellipse"
              and recorder.into[entry[2]] == []]
    if root.grad_fn is None or not leaves:
        return
    grads = tg.autograd.grad(root.sum(), leaves, create_graph=True, allow_unused=True)
    for grad in grads:
        if grad is not None:
            text = viz.graph_dot(grad)
            assert same_graph(walk(grad), dot_graph(text)), text
    assert same_graph(walk(root), dot_graph(viz.graph_dot(root)))


@fuzz_graphs
@given(graphs())
def test_graph_dot_after_backward(graph):
    recorder, root, root_key = graph
    if root.grad_fn is None:
        return
    before = viz.graph_dot(root)
    root.sum().backward(retain_graph=True)
    assert viz.graph_dot(root) == before              # retained: the same graph, same ids
    root.sum().backward()
    nodes, into, root_node = dot_graph(viz.graph_dot(root))
    assert len(nodes) == 2                            # the output and its released op only
    (op,) = into[root_node]
    assert nodes[op] == ("box", recorder.nodes[recorder.into[root_key][0]][1] + " (freed)",
                         False)
    assert into[op] == [] and nodes[root_node] == recorder.nodes[root_key]
    attrs = parse_dot(viz.graph_dot(root))["nodes"][op]
    assert attrs.get("color") == "gray"


ODD_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
CLASS_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@fuzz_graphs
@given(graphs(max_steps=3), ODD_TEXT)
@example(graph=None, name='say "hi"')
@example(graph=None, name="back\\")
@example(graph=None, name="two\nlines {x -> y;} \\n")
def test_graph_dot_names_read_back_unchanged(graph, name):
    root = graph[1] if graph is not None else tg.ones(2, requires_grad=True) * 2.0
    text = viz.graph_dot(root, name=name)
    assert parse_dot(text)["name"] == name
    assert text.splitlines()[0].startswith("digraph ")
    dot_graph(text)


@fuzz
@given(CLASS_NAMES, st.booleans())
@example(name='Say"hi', reshaped=False)
@example(name="back\\", reshaped=True)
def test_graph_dot_escapes_custom_op_names(name, reshaped):
    function = type(name, (tg.autograd.Function,), {
        "forward": staticmethod(lambda ctx, x: x * 2.0),
        "backward": staticmethod(lambda ctx, grad: grad * 2.0)})
    x = tg.ones(2, 3, requires_grad=True)
    y = function.apply(x).reshape(3, 2) if reshaped else function.apply(x)
    nodes, _, _ = dot_graph(viz.graph_dot(y))
    labels = [label for kind, label, _ in nodes.values() if kind == "box"]
    assert name + "Backward" in labels


@fuzz
@given(st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none(),
                 st.lists(st.floats(), max_size=3), st.just(np.ones((2, 3))),
                 st.just({"x": 1.0})))
def test_graph_dot_rejects_what_is_not_a_tensor(value):
    with pytest.raises(TypeError, match=rf"graph_dot: expected a Tensor, got "
                                        rf"{re.escape(type(value).__name__)}$"):
        viz.graph_dot(value)


# --- plotting: data in every form --------------------------------------------------------------

SPECIAL = [0.0, -0.0, math.nan, math.inf, -math.inf, float(np.float32(1e-30)),
           float(np.float32(1e30))]                # (float32-exact: Tensors hold float32)
NUMBERS = st.one_of(st.floats(-1e6, 1e6, width=32), st.sampled_from(SPECIAL))
FORMS = ["list", "tuple", "float64", "float32", "tensor", "tensors"]
TEXT = st.text(st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), min_size=1,
               max_size=8)


def in_form(values: list, form: str, device: str):
    """``values`` (float32-exact) as a list, tuple, NumPy array, Tensor or list of Tensors."""
    if form == "list":
        return list(values)
    if form == "tuple":
        return tuple(values)
    if form in ("float64", "float32"):
        return np.asarray(values, dtype=form)
    if form == "tensor":
        return tg.tensor(np.asarray(values, dtype=np.float32), device=device)
    return [tg.tensor(value, device=device) for value in values]


@st.composite
def series(draw, size=None, numbers=NUMBERS):
    """(values in a random form, the same values as float64)."""
    length = size if size is not None else draw(st.integers(0, 6))
    values = draw(st.lists(numbers, min_size=length, max_size=length))
    data = in_form(values, draw(st.sampled_from(FORMS)), draw(DEVICES))
    return data, np.asarray(values, dtype=np.float64)


@pytest.fixture
def drawn(figures):
    """matplotlib (skipped without it), on Agg, and every Figure the helpers draw."""
    import matplotlib
    matplotlib.use("Agg")
    return figures


def png_of(figures, path, call):
    """Run ``call``; check it returned ``path``, wrote a PNG matplotlib reads back and left
    pyplot's figures alone; return the one Figure it drew."""
    import matplotlib.image
    import matplotlib.pyplot as plt

    if path.exists():
        path.unlink()
    before, count = plt.get_fignums(), len(figures)
    assert call() == str(path)
    assert plt.get_fignums() == before
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(str(path))
    assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10
    assert len(figures) == count + 1
    return figures[-1]


def assert_same(actual, expected):
    np.testing.assert_array_equal(np.asarray(actual, dtype=np.float64),
                                  np.asarray(expected, dtype=np.float64))


def line_labels(axes) -> list:
    return [line.get_label() for line in axes.lines]


def check_title(figure, title):
    if title:
        assert figure.get_suptitle() == title


def test_lists_of_tensors_on_a_device_are_plotted(drawn, tmp_path, device):
    """Losses kept as Tensors (on a GPU, say): a list of them is plotted as it is on the host."""
    losses = [tg.tensor(value, device=device) for value in (2.0, 0.5, 0.25)]
    path = tmp_path / "losses.png"
    figure = png_of(drawn, path, lambda: viz.plot_curves({"train_loss": losses}, str(path)))
    assert_same(figure.axes[0].lines[0].get_ydata(), [2.0, 0.5, 0.25])
    points = [[tg.tensor(0.5, device=device), tg.tensor(1.5, device=device)]]
    figure = png_of(drawn, path, lambda: viz.plot_trajectories(
        rosenbrock, {"gd": points}, str(path), resolution=5))
    assert_same(figure.axes[0].lines[0].get_xydata(), [[0.5, 1.5]])


def flat_one(p):
    return np.ones(p.shape[1:])


def flat_zero(p):
    return np.zeros(p.shape[1:])


def plane(p):
    return p[0] + 2.0 * p[1]


EDGES = {   # what the random draws found: each used to fail inside matplotlib or NumPy
    "one huge weight": lambda p: viz.plot_histograms({"w": [1e30]}, p, xlabel="w", bins=3),
    "an inf weight": lambda p: viz.plot_histograms({"w": [1.0, np.inf]}, p, xlabel="w"),
    "a NaN norm, log bars": lambda p: viz.plot_grad_norm_bars({"layer 1": np.nan}, p),
    "inf bars on a log axis": lambda p: viz.plot_bars([np.inf, -np.inf], p, ylabel="y",
                                                      logy=True),
    "no steps yet": lambda p: viz.plot_grad_norms([], p, names=["L1", "L2"]),
    "no steps yet, array": lambda p: viz.plot_grad_norms(np.zeros((0, 3)), p),
    "a flat surface": lambda p: viz.plot_trajectories(flat_zero, {"gd": [[0.0, 0.0]]}, p,
                                                      bounds=((-1, 1), (-1, 1)), resolution=5),
}


@pytest.mark.parametrize("case", sorted(EDGES))
def test_edge_values_still_plot(drawn, tmp_path, case):
    path = tmp_path / "edge.png"
    png_of(drawn, path, lambda: EDGES[case](str(path)))


# --- plot_curves -------------------------------------------------------------------------------

@st.composite
def curve_names(draw):
    """(name, metric, is a loss): the metric the name states after a train_/val_/test_
    prefix, or None when it states none."""
    kind = draw(st.sampled_from(["loss", "metric", "other"]))
    run = draw(st.sampled_from(["", "SGD ", "Adam "]))
    split = draw(st.sampled_from(["train_", "val_", "test_"]))
    if kind == "loss":
        return run + draw(st.sampled_from(["", split])) + \
            draw(st.sampled_from(["loss", "nll_loss"])), None, True
    if kind == "metric":
        metric = draw(st.sampled_from(["accuracy", "f1", "top5"]))
        return run + split + metric, metric, False
    return draw(st.sampled_from(["random", "bayes", 'a"b', "accuracy", "1"])), None, False


@fuzz
@given(st.data(), st.lists(curve_names(), max_size=4, unique_by=lambda name: name[0]),
       st.sampled_from(["default", "shared", "per name", "history"]),
       st.one_of(st.none(), TEXT), st.booleans(), st.one_of(st.none(), TEXT), TEXT)
def test_plot_curves(drawn, tmp_path, data, names, x_mode, ylabel, logy, title, xlabel):
    length = data.draw(st.integers(0, 5))
    fixed = x_mode in ("shared", "history")
    curves, expected = {}, {}
    for name, _, _ in names:
        curves[name], expected[name] = data.draw(series(length if fixed else None))
    if not names and x_mode == "default" and data.draw(st.booleans()):   # one bare sequence
        curves, values = data.draw(series())
        names, expected = [("", None, False)], {"": values}
    xs = {name: np.arange(1, len(values) + 1) for name, values in expected.items()}
    x = None
    if x_mode == "shared":
        x, shared = data.draw(series(length, st.integers(-5, 50).map(float)))
        xs = {name: shared for name in curves}
    elif x_mode == "per name":
        x = {}
        for name in data.draw(st.lists(st.sampled_from(list(curves) or ["none"]), unique=True)):
            length_of = len(expected[name]) if name in expected else 2
            x[name], xs[name] = data.draw(series(length_of, st.floats(-10, 10, width=32)))
    elif x_mode == "history":                     # fit's History: epoch and lr are left out
        history = History()
        for epoch in range(length):
            history.append({"epoch": epoch, **{name: float(values[epoch])
                                               for name, values in expected.items()},
                            "lr": 0.1})
        curves = history
        if not length:                             # no epoch: no key at all
            names, expected = [], {}
    losses = [name for name, _, loss in names if loss]
    others = [(name, metric) for name, metric, loss in names if not loss]
    panels = [group for group in (losses, others) if group]
    labels = []
    if losses:
        labels.append(ylabel if ylabel is not None and len(panels) == 1 else "loss")
    if others:
        metrics = {metric for _, metric in others}
        labels.append(ylabel if ylabel is not None else
                      metrics.pop() if len(metrics) == 1 and None not in metrics else None)
    path = tmp_path / "curves.png"
    if path.exists():
        path.unlink()
    call = lambda: viz.plot_curves(curves, str(path), title=title, xlabel=xlabel,  # noqa: E731
                                   logy=logy, ylabel=ylabel, x=x)
    if None in labels:
        with pytest.raises(ValueError, match=r"plot_curves: name the y axis .* ylabel="):
            call()
        assert not path.exists()
        return
    figure = png_of(drawn, path, call)
    check_title(figure, title)
    assert len(figure.axes) == len(panels)
    groups = [losses, [name for name, _ in others]]
    for axes, group, label in zip(figure.axes, [g for g in groups if g], labels):
        assert (axes.get_xlabel(), axes.get_ylabel()) == (xlabel, label)
        assert len(axes.lines) == len(group)
        for line, name in zip(axes.lines, group):
            assert line.get_label() == name or not name and line.get_label().startswith("_")
            assert_same(line.get_ydata(), expected[name])
            assert_same(line.get_xdata(), xs[name])
        log = logy and (group is losses or len(panels) == 1)
        assert axes.get_yscale() == ("log" if log else "linear")


# --- plot_lr_schedule --------------------------------------------------------------------------

@fuzz
@given(st.data(), st.booleans(), st.booleans(), TEXT, st.one_of(st.none(), TEXT))
def test_plot_lr_schedule(drawn, tmp_path, data, as_dict, logy, xlabel, title):
    numbers = st.one_of(st.floats(0, 1, width=32),
                        st.sampled_from([0.0, math.nan, float(np.float32(1e-8))]))
    if as_dict:
        names = data.draw(st.lists(TEXT, max_size=3, unique=True))
        pairs = {name: data.draw(series(numbers=numbers)) for name in names}
        lrs = {name: pair[0] for name, pair in pairs.items()}
        expected = {name: pair[1] for name, pair in pairs.items()}
    else:
        lrs, values = data.draw(series(numbers=numbers))
        expected = {"": values}
    path = tmp_path / "lr.png"
    figure = png_of(drawn, path, lambda: viz.plot_lr_schedule(lrs, str(path), title=title,
                                                              xlabel=xlabel, logy=logy))
    check_title(figure, title)
    (axes,) = figure.axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == (xlabel, "learning rate")
    assert axes.get_yscale() == ("log" if logy else "linear")
    assert len(axes.lines) == len(expected)
    for line, (name, values) in zip(axes.lines, expected.items()):
        assert line.get_label() == name or not name and line.get_label().startswith("_")
        assert_same(line.get_xdata(), np.arange(len(values)))       # steps from 0
        assert_same(line.get_ydata(), values)
        assert line.get_drawstyle() == "steps-post"


# --- plot_grad_norms ---------------------------------------------------------------------------

@fuzz
@given(st.data(), st.integers(0, 5), st.integers(1, 4),
       st.sampled_from(["array", "array, names", "dict"]), st.one_of(st.none(), TEXT), TEXT)
def test_plot_grad_norms(drawn, tmp_path, data, steps, layers, form, title, xlabel):
    device = data.draw(DEVICES)
    table = np.asarray(data.draw(st.lists(st.lists(NUMBERS, min_size=layers, max_size=layers),
                                          min_size=steps, max_size=steps)),
                       dtype=np.float64).reshape(steps, layers)
    names = [f"layer {i}" for i in range(layers)]
    if form == "dict":
        names = data.draw(st.lists(TEXT, min_size=layers, max_size=layers, unique=True))
        norms = {name: in_form(list(table[:, i]), data.draw(st.sampled_from(FORMS)), device)
                 for i, name in enumerate(names)}
    else:
        norms = data.draw(st.sampled_from([    # (a list of no rows has no layers: not then)
            table.astype(np.float32), tg.tensor(table.astype(np.float32), device=device)]
            + ([table.tolist()] if steps or form == "array, names" else [])))
        if form == "array":
            names = [str(i) for i in range(layers)]
    path = tmp_path / "norms.png"
    figure = png_of(drawn, path, lambda: viz.plot_grad_norms(
        norms, str(path), names=names if form == "array, names" else None, title=title,
        xlabel=xlabel))
    check_title(figure, title)
    (axes,) = figure.axes
    assert line_labels(axes) == names
    for column, line in enumerate(axes.lines):
        assert_same(line.get_ydata(), table[:, column])
        assert_same(line.get_xdata(), np.arange(steps))
    assert axes.get_yscale() == "log"
    assert (axes.get_xlabel(), axes.get_ylabel()) == (xlabel, "gradient norm ||dL/dW||")


# --- plot_bars, plot_grad_norm_bars ------------------------------------------------------------

@st.composite
def heights(draw, device):
    """One bar height as a float, a NumPy number or a 0-d Tensor, and its value."""
    value = draw(NUMBERS)
    form = draw(st.sampled_from(["float", "numpy", "tensor"]))
    shown = {"float": value, "numpy": np.float32(value),
             "tensor": tg.tensor(value, device=device)}[form]
    return shown, float(np.float32(value))


@fuzz
@given(st.data(), st.sampled_from(["sequence", "dict", "grouped"]), st.booleans(),
       st.sampled_from(["bars", "grad_norm_bars"]), st.one_of(st.none(), TEXT))
def test_plot_bars(drawn, tmp_path, data, form, logy, helper, title):
    device = data.draw(DEVICES)
    if form == "sequence":
        values, flat = data.draw(series())
        expected = {"": {str(i): value for i, value in enumerate(flat)}}
    elif form == "dict":
        labels = data.draw(st.lists(TEXT, max_size=5, unique=True))
        pairs = {label: data.draw(heights(device)) for label in labels}
        values = {label: pair[0] for label, pair in pairs.items()}
        expected = {"": {label: pair[1] for label, pair in pairs.items()}}
    else:
        values, expected = {}, {}
        for run in data.draw(st.lists(TEXT, min_size=1, max_size=3, unique=True)):
            if data.draw(st.booleans()):
                values[run], flat = data.draw(series())
                expected[run] = {str(i): value for i, value in enumerate(flat)}
            else:
                labels = data.draw(st.lists(st.sampled_from("abcdef"), max_size=4, unique=True))
                pairs = {label: data.draw(heights(device)) for label in labels}
                values[run] = {label: pair[0] for label, pair in pairs.items()}
                expected[run] = {label: pair[1] for label, pair in pairs.items()}
    path = tmp_path / "bars.png"
    ylabel, xlabel = data.draw(TEXT), data.draw(st.sampled_from(["", "layer"]))
    if helper == "bars":
        call = lambda: viz.plot_bars(values, str(path), ylabel=ylabel, title=title,  # noqa
                                     logy=logy, xlabel=xlabel)
    else:
        ylabel, xlabel, logy = "gradient norm ||dL/dW|| (log)", "layer (input -> output)", True
        call = lambda: viz.plot_grad_norm_bars(values, str(path), title=title)  # noqa: E731
    figure = png_of(drawn, path, call)
    check_title(figure, title)
    (axes,) = figure.axes
    labels = list(dict.fromkeys(label for bars in expected.values() for label in bars))
    assert [tick.get_text() for tick in axes.get_xticklabels()] == labels
    assert (axes.get_xlabel(), axes.get_ylabel()) == (xlabel, ylabel)
    every = [height for bars in expected.values() for height in bars.values()]
    log = logy and (not every or any(math.isfinite(height) for height in every))
    assert axes.get_yscale() == ("log" if log else "linear")   # (no log axis for NaN/inf)
    assert len(axes.containers) == len(expected)
    width = 0.8 / len(expected)
    for index, (bars, container) in enumerate(zip(expected.values(), axes.containers)):
        assert_same([patch.get_height() for patch in container.patches],
                    [bars.get(label, math.nan) for label in labels])
        centres = [patch.get_x() + patch.get_width() / 2 for patch in container.patches]
        offset = (index - (len(expected) - 1) / 2) * width              # side by side
        np.testing.assert_allclose(centres, np.arange(len(labels)) + offset, atol=1e-9)
    legend = axes.get_legend()
    if list(expected) == [""]:
        assert legend is None
    else:
        assert [text.get_text() for text in legend.get_texts()] == list(expected)


# --- plot_histograms ---------------------------------------------------------------------------

@fuzz
@given(st.data(), st.booleans(), st.integers(1, 12), st.booleans(), TEXT,
       st.one_of(st.none(), TEXT))
def test_plot_histograms(drawn, tmp_path, data, as_dict, bins, logy, xlabel, title):
    if as_dict:
        names = data.draw(st.lists(TEXT, min_size=1, max_size=3, unique=True))
        pairs = {name: data.draw(series()) for name in names}
        values = {}
        for name, (shown, flat) in pairs.items():   # any shape: flattened
            values[name] = shown.reshape(-1, 2) if (
                isinstance(shown, np.ndarray) and shown.size % 2 == 0) else shown
        expected = {name: pair[1] for name, pair in pairs.items()}
    else:
        values, flat = data.draw(series())
        expected = {"": flat}
    path = tmp_path / "hist.png"
    figure = png_of(drawn, path, lambda: viz.plot_histograms(
        values, str(path), bins=bins, title=title, logy=logy, xlabel=xlabel))
    check_title(figure, title)
    assert len(figure.axes) == len(expected)
    for axes, (name, flat) in zip(figure.axes, expected.items()):
        finite = flat[np.isfinite(flat)]
        left_out = f", {flat.size - finite.size} NaN/inf" if finite.size < flat.size else ""
        assert axes.get_title() == f"{name}\n{int(np.sum(flat == 0))}/{flat.size} exactly 0" \
            + left_out
        counts = [patch.get_height() for patch in axes.patches]
        assert len(counts) == bins and sum(counts) == finite.size       # every finite value
        one_huge = finite.size and finite.min() == finite.max() and abs(finite[0]) > 5e5
        if not one_huge:                          # (NumPy's own range fails on one 1e30)
            assert_same(counts, np.histogram(finite, bins=bins)[0])

        assert axes.get_xlabel() == xlabel
        assert axes.get_yscale() == ("log" if logy else "linear")


# --- plot_trajectories -------------------------------------------------------------------------

SURFACES = {"rosenbrock": rosenbrock, "saddle": saddle, "flat": flat_one, "zero": flat_zero,
            "plane": plane}


@fuzz
@given(st.data(), st.sampled_from(sorted(SURFACES)), st.integers(3, 12), st.integers(5, 25),
       st.booleans(), st.one_of(st.none(), TEXT))
def test_plot_trajectories(drawn, tmp_path, data, surface, levels, resolution, own_minima,
                           title):
    surface_fn = SURFACES[surface]
    bounds = getattr(surface_fn, "bounds", None)
    if bounds is None or data.draw(st.booleans()):
        low = data.draw(st.floats(-3, 2))
        bounds = ((low, low + data.draw(st.floats(0.5, 3))), (low - 1, low + 1))
    minima = data.draw(st.lists(st.tuples(st.floats(-2, 2), st.floats(-2, 2)), max_size=2)) \
        if own_minima else None
    coordinates = st.one_of(st.floats(-4, 4, width=32), st.just(math.nan))
    trajectories, points = {}, {}
    for name in data.draw(st.lists(TEXT, max_size=3, unique=True)):
        count = data.draw(st.integers(0, 4))
        shown, flat = data.draw(series(2 * count, coordinates))
        if isinstance(shown, (np.ndarray, tg.Tensor)):
            shown = shown.reshape(count, 2)
        else:                                         # [[x, y], ...]
            shown = [shown[2 * i:2 * i + 2] for i in range(count)]
        trajectories[name], points[name] = shown, flat.reshape(count, 2)
    path = tmp_path / "paths.png"
    figure = png_of(drawn, path, lambda: viz.plot_trajectories(
        surface_fn, trajectories, str(path), bounds=bounds, minima=minima, title=title,
        levels=levels, resolution=resolution))
    check_title(figure, title)
    (axes,) = figure.axes
    paths = [line for line in axes.lines if line.get_marker() != "*"]
    assert [line.get_label() for line in paths] == list(points)
    for line, (name, xy) in zip(paths, points.items()):
        assert_same(line.get_xdata(), xy[:, 0])
        assert_same(line.get_ydata(), xy[:, 1])
    stars = [(line.get_xdata()[0], line.get_ydata()[0]) for line in axes.lines
             if line.get_marker() == "*"]
    assert_same(stars, [tuple(point) for point in (minima if minima is not None else
                                                    getattr(surface_fn, "minima", []))])
    assert axes.get_xlim() == pytest.approx(bounds[0]) and \
        axes.get_ylim() == pytest.approx(bounds[1])
    grid = np.stack(np.meshgrid(np.linspace(*bounds[0], resolution),
                                np.linspace(*bounds[1], resolution)))
    heights = np.asarray(surface_fn(grid), dtype=np.float64)
    low, high = heights.min(), heights.max()
    contours = [item for item in axes.collections if hasattr(item, "levels")]
    if high == low:                                 # flat: no contour line to draw
        assert contours == []
        return
    (contour,) = contours
    if low > 0:                                     # positive: log-spaced levels
        expected = np.geomspace(low, high, levels)
    elif low == 0:                                  # 0, then log-spaced up to the top
        expected = np.r_[0.0, np.geomspace(high * 1e-6, high, levels - 1)]
    else:
        expected = np.linspace(low, high, levels)
    np.testing.assert_allclose(contour.levels, expected, rtol=1e-12)


# --- plot_decision_boundary --------------------------------------------------------------------

@fuzz
@given(st.data(), st.integers(1, 6), st.integers(1, 3), st.integers(3, 10),
       st.floats(0.1, 1.0), st.booleans(), st.sampled_from(["numpy", "list", "tensor"]))
def test_plot_decision_boundary(drawn, tmp_path, data, count, classes, resolution, margin,
                                training, form):
    device = data.draw(DEVICES)
    X = np.asarray(data.draw(st.lists(st.floats(-3, 3, width=32), min_size=2 * count,
                                      max_size=2 * count)), dtype=np.float32).reshape(count, 2)
    y = np.asarray(data.draw(st.lists(st.integers(0, max(classes - 1, 1)), min_size=count,
                                      max_size=count)))
    tg.manual_seed(data.draw(st.integers(0, 3)))
    model = nn.Linear(2, classes).to(device)
    model.train(training)
    shown_X, shown_y = {"numpy": (X, y), "list": (X.tolist(), y.tolist()),
                        "tensor": (tg.tensor(X, device=device), tg.tensor(y, device=device))}[form]
    path = tmp_path / "boundary.png"
    figure = png_of(drawn, path, lambda: viz.plot_decision_boundary(
        model, shown_X, shown_y, str(path), resolution=resolution, margin=margin))
    assert model.training == training
    (axes,) = figure.axes
    (points,) = [item for item in axes.collections if not hasattr(item, "levels")]
    assert_same(points.get_offsets(), X)
    assert_same(points.get_array(), y)
    # the classes predicted over the grid, from the layer's weights in NumPy
    xs = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    ys = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    grid = np.stack([axis.ravel() for axis in np.meshgrid(xs, ys)], axis=1)
    weight, bias = model.weight.detach().numpy(), model.bias.detach().numpy()
    scores = grid @ weight.astype(np.float64).T + bias
    predicted = scores.argmax(axis=1) if classes > 1 else (scores[:, 0] > 0).astype(int)
    ranked = np.sort(np.c_[scores, -scores] if classes == 1 else scores, axis=1)
    (regions,) = [item for item in axes.collections if hasattr(item, "levels")]
    if np.min(ranked[:, -1] - ranked[:, -2]) > 1e-4:   # (float32 could tip a closer call)
        assert_same(regions.levels, np.arange(predicted.max() + 2) - 0.5)


# --- bad input: a clear ValueError, and no file ------------------------------------------------

def too_many_or_few(k: int) -> list:
    """Layer names that are not 2: 0, 1, 3, 4, ... of them."""
    return ["a"] * (k if k < 2 else k + 1)


# case: (call(path, n, k), the message as a regex, in which {n}, {m} (= n + k + 1) and {w}
# (= 3 + k) stand for the sizes drawn): n >= 1, k >= 0
BAD = {
    "one number as curve": (lambda p, n, k: viz.plot_curves({"loss": 1.5}, p),
                            r"plot_curves: expected a sequence of values for 'loss', got one "),
    "x of another length": (lambda p, n, k: viz.plot_curves({"loss": [1.0] * n}, p,
                                                            x=list(range(n + k + 1))),
                            r"plot_curves: {m} x values for the {n} values of 'loss'"),
    "no ylabel": (lambda p, n, k: viz.plot_curves({"random": [1.0] * n}, p), r"ylabel=\.\.\."),
    "one number as rates": (lambda p, n, k: viz.plot_lr_schedule(0.1, p),
                            r"plot_lr_schedule: expected a sequence of values, got one number"),
    "names too few or many": (lambda p, n, k: viz.plot_grad_norms(
        np.ones((n, 2)), p, names=too_many_or_few(k)),
        r"plot_grad_norms: \d+ names for the 2 layers of norms \(shape \({n}, 2\)\)"),
    "one number as norms": (lambda p, n, k: viz.plot_grad_norms(3.0, p),
                            r"plot_grad_norms: norms is one number"),
    "bars without ylabel": (lambda p, n, k: viz.plot_bars([1.0] * n, p, ylabel=""),
                            r"plot_bars: name the y axis with ylabel="),
    "a sequence among bars": (lambda p, n, k: viz.plot_bars(
        {"a": 1.0, "b": [1.0] * (n + k + 1), "c": 2.0}, p, ylabel="y"),
        r"plot_bars: the bar 'b' is not one number"),
    "a dict among bars": (lambda p, n, k: viz.plot_bars({"a": 1.0, "b": {"x": 1.0}}, p,
                                                        ylabel="y"),
                          r"plot_bars: the bar 'b' is not one number"),
    "histograms without xlabel": (lambda p, n, k: viz.plot_histograms({"w": [1.0] * n}, p),
                                  r"plot_histograms: name the x axis with xlabel="),
    "no histogram": (lambda p, n, k: viz.plot_histograms({}, p, xlabel="w"),
                     r"plot_histograms: values is empty"),
    "points not pairs": (lambda p, n, k: viz.plot_trajectories(
        rosenbrock, {"gd": np.ones((n, 3 + k))}, p, resolution=5),
        r"plot_trajectories: the points of 'gd' have shape \({n}, {w}\); expected \(T, 2\)"),
    "no bounds": (lambda p, n, k: viz.plot_trajectories(flat_one, {}, p, resolution=5),
                  r"plot_trajectories: pass bounds="),
    "X not pairs": (lambda p, n, k: viz.plot_decision_boundary(
        nn.Linear(2, 2), np.ones((n, 3 + k)), [0] * n, p, resolution=4),
        r"plot_decision_boundary: X has shape \({n}, {w}\); expected \(N, 2\)"),
    "no points": (lambda p, n, k: viz.plot_decision_boundary(
        nn.Linear(2, 2), np.ones((0, 2)), [], p, resolution=4),
        r"plot_decision_boundary: X has shape \(0, 2\)"),
    "labels not matching points": (lambda p, n, k: viz.plot_decision_boundary(
        nn.Linear(2, 2), np.ones((n, 2)), [0] * (n + k + 1), p, resolution=4),
        r"plot_decision_boundary: {m} labels y for {n} points X"),
}


@fuzz
@given(st.sampled_from(sorted(BAD)), st.integers(1, 5), st.integers(0, 3))
def test_bad_input_raises_a_clear_value_error(drawn, tmp_path, case, n, k):
    call, message = BAD[case]
    message = message.replace("{n}", str(n)).replace("{m}", str(n + k + 1)) \
        .replace("{w}", str(3 + k))
    path = tmp_path / "bad.png"
    with pytest.raises(ValueError, match=message):
        call(str(path), n, k)
    assert not path.exists()
