"""graph_dot: Graphviz DOT text of the graph that made a tensor."""

import re

import tinygrad_opt as tg
from tinygrad_opt.viz import graph_dot


def small_graph(device="cpu"):
    x = tg.ones(2, 3, requires_grad=True, device=device)
    w = tg.ones(3, requires_grad=True, device=device)
    c = tg.ones(2, 3, device=device)  # a constant
    return x, w, ((x * w + c).exp()).sum()


DOT_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def check_header(text, name):
    """``digraph ID {`` where ID is quoted or a plain identifier that is not a keyword."""
    header = text.splitlines()[0]
    match = re.fullmatch(r'digraph ("[^"]*"|[A-Za-z_][A-Za-z_0-9]*) \{', header)
    assert match, header
    graph_id = match.group(1)
    assert graph_id.startswith('"') or graph_id.lower() not in DOT_KEYWORDS
    assert graph_id.strip('"') == name


def check_balanced(text):
    depth = 0
    for character in text:
        depth += {"{": 1, "}": -1}.get(character, 0)
        assert depth >= 0
    assert depth == 0


def test_dot_names_ops_and_shapes(device):
    _, _, loss = small_graph(device)
    text = graph_dot(loss)
    check_header(text, "graph")
    assert text.rstrip().endswith("}")
    check_balanced(text)
    for op in ("Mul", "Add", "Exp", "Sum", "BroadcastTo"):
        assert f'label="{op}"' in text
    assert "2x3" in text and 'label="3\\nleaf' in text and "scalar" in text


def test_dot_marks_leaves_that_require_grad():
    _, _, loss = small_graph()
    text = graph_dot(loss)
    leaves = [line for line in text.splitlines() if "leaf, requires_grad" in line]
    assert len(leaves) == 2  # x and w
    assert all("filled" in line for line in leaves)
    constants = [line for line in text.splitlines() if "constant" in line]
    assert constants and not any("filled" in line for line in constants)


def test_dot_edges_point_from_inputs_to_ops_to_outputs():
    x, _, loss = small_graph()
    text = graph_dot(loss)
    node_ids = set(re.findall(r"^\s+([tf]\d+) \[", text, flags=re.MULTILINE))
    edges = re.findall(r"^\s+([tf]\d+) -> ([tf]\d+);", text, flags=re.MULTILINE)
    assert edges
    for source, target in edges:
        assert source in node_ids and target in node_ids
        assert source[0] != target[0]  # tensor -> op or op -> tensor, never op -> op
    assert f"t{id(x)}" in node_ids and f"t{id(loss)}" in node_ids


def test_dot_of_shared_input_lists_it_once_and_custom_name():
    x = tg.ones(3, requires_grad=True)
    text = graph_dot((x * x).sum(), name="square")
    check_header(text, "square")
    assert len(re.findall(rf"^\s+t{id(x)} \[", text, flags=re.MULTILINE)) == 1


def test_dot_after_backward_shows_freed_ops():
    _, _, loss = small_graph()
    loss.backward()
    text = graph_dot(loss)
    assert "Sum (freed)" in text
    check_balanced(text)


def test_dot_of_a_leaf_and_of_a_deep_chain():
    x = tg.ones(2, requires_grad=True)
    assert "leaf, requires_grad" in graph_dot(x)
    y = x
    for _ in range(3000):
        y = y + 1.0
    text = graph_dot(y)  # iterative: no RecursionError
    assert text.count('label="Add"') == 3000
