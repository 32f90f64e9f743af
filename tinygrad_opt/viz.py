"""Pictures: the computation graph as Graphviz DOT source.

``graph_dot(loss)`` walks the graph from a tensor back to its leaves and
returns DOT text: ops as boxes (with the output's shape), tensors as ovals,
leaves that require grad highlighted. Paste it into any Graphviz viewer, or
run ``dot -Tpng``; producing it needs no binary.
"""

from __future__ import annotations


def graph_dot(tensor, name: str = "graph") -> str:
    """Graphviz DOT source of the graph that produced ``tensor``."""
    lines = [f"digraph {name} {{", "  rankdir=BT;", '  node [fontname="Helvetica"];']
    seen = set()
    stack = [tensor]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        shape = "x".join(str(size) for size in node.shape) or "scalar"
        tensor_id = f"t{id(node)}"
        if node.grad_fn is None:
            style = ', style=filled, fillcolor="lightblue"' if node.requires_grad else ""
            kind = "leaf, requires_grad" if node.requires_grad else "constant"
            lines.append(f'  {tensor_id} [shape=ellipse, label="{shape}\\n{kind}"{style}];')
            continue
        function = node.grad_fn
        op_id = f"f{id(function)}"
        lines.append(f'  {tensor_id} [shape=ellipse, label="{shape}"];')
        lines.append(f'  {op_id} [shape=box, label="{function.name}"];')
        lines.append(f"  {op_id} -> {tensor_id};")
        if getattr(function, "freed", False):
            lines.append(f'  {op_id} [color=gray, label="{function.name} (freed)"];')
            continue
        for tensor_input in function.inputs:
            lines.append(f"  t{id(tensor_input)} -> {op_id};")
            stack.append(tensor_input)
    lines.append("}")
    return "\n".join(lines)
