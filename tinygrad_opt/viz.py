"""Pictures: the computation graph as Graphviz DOT source.

``graph_dot(loss)`` walks the graph from a tensor back to its leaves and
returns DOT text: ops as boxes (with the output's shape), tensors as ovals,
leaves that require grad highlighted. Paste it into any Graphviz viewer, or
run ``dot -Tpng``; producing it needs no binary.
"""

from __future__ import annotations


def graph_dot(tensor, name: str = "graph") -> str:
    """Graphviz DOT source of the graph that produced ``tensor``, a graph named ``name``."""
    from tinygrad_opt.tensor import Tensor
    if not isinstance(tensor, Tensor):  # (not an AttributeError from deep inside the walk)
        raise TypeError(f"graph_dot: expected a Tensor, got {type(tensor).__name__}")
    lines = [f"digraph {_quoted(name)} {{", "  rankdir=BT;", '  node [fontname="Helvetica"];']
    seen, stack = set(), [tensor]
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
            label = _quoted(f"{shape}\n{kind}")  # (a line break: _quoted writes DOT's \\n)
            lines.append(f"  {tensor_id} [shape=ellipse, label={label}{style}];")
            continue
        function = node.grad_fn
        op_id = f"f{id(function)}"
        freed = getattr(function, "freed", False)  # one declaration, gray: "Mul (freed)"
        label = _quoted(function.name + (" (freed)" if freed else ""))
        lines.append(f"  {tensor_id} [shape=ellipse, label={_quoted(shape)}];")
        lines.append(f"  {op_id} [shape=box, label={label}{', color=gray' if freed else ''}];")
        lines.append(f"  {op_id} -> {tensor_id};")
        for tensor_input in () if freed else function.inputs:  # (freed: inputs dropped)
            lines.append(f"  t{id(tensor_input)} -> {op_id};")
            stack.append(tensor_input)
    return "\n".join(lines + ["}"])


def _quoted(text) -> str:
    """``text`` as a quoted DOT string (the default graph name, graph, is a DOT keyword):
    quotes and backslashes escaped (a name or a custom op's may hold them, and one left
    bare would end the string early), a line break as DOT's ``\\n``."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


# --- plotting helpers ----------------------------------------------------------------------
#
# Each helper draws one figure and writes it to ``path`` as a PNG (returning the path).
# matplotlib is optional (the ``plot`` extra): it is imported inside each helper, and
# the figure is a bare ``matplotlib.figure.Figure`` rendered by the Agg backend, so no
# window opens and pyplot's global state is never touched.

PLOT_HINT = "matplotlib is not installed: pip install 'tinygrad_opt[plot]'"


def _new_figure(width: float = 6.4, height: float = 4.4):
    """A fresh matplotlib Figure (Agg), or RuntimeError(PLOT_HINT) without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError(PLOT_HINT) from None
    return Figure(figsize=(width, height))


def _save(figure, path: str, title: str | None = None) -> str:
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=90, bbox_inches="tight")
    return path


def _host(values):
    """A Tensor, a device array or a list as a host NumPy float array."""
    import numpy as np  # host-side plotting data
    from tinygrad_opt import backend

    if hasattr(values, "numpy"):
        values = values.numpy()
    elif backend.is_array(values):
        values = backend.to_host(values)
    elif isinstance(values, (list, tuple)):  # e.g. losses as Tensors on a GPU: each copied,
        values = [_host(value) for value in values]  # as NumPy may not convert them itself
    return np.asarray(values, dtype=np.float64)


def _series(values, helper: str) -> dict:
    """``{label: 1-D array}`` from a dict, a training History, or one sequence."""
    if hasattr(values, "as_dict"):
        values = values.as_dict()
    series = values if isinstance(values, dict) else {"": values}
    series = {str(name): _host(data) for name, data in series.items()}
    for name, data in series.items():
        if data.ndim == 0:  # (not len()'s "unsized object" from matplotlib's side)
            raise ValueError(f"{helper}: expected a sequence of values"
                             f"{f' for {name!r}' if name else ''}, got one number")
    return series


def plot_curves(curves, path: str, title: str | None = None, xlabel: str = "epoch",
                logy: bool = False, ylabel: str | None = None, x=None) -> str:
    """Loss and accuracy curves: ``curves`` is a ``fit`` History or ``{name: values}``.

    Names containing ``loss`` go on the left panel, the others (accuracies,
    F1, ...) on a right panel; with only one kind there is one panel. ``logy``
    puts the loss panel (or the only panel) on a log scale. The History keys
    ``epoch`` and ``lr`` are left out (see :func:`plot_lr_schedule`).
    Comparing runs: ``plot_curves({'sigmoid': losses_a, 'relu': losses_b}, path)``.

    ``x``: the x values, one sequence for every curve or ``{name: sequence}``
    (default 1, 2, ...: epochs counted from 1); integer x values get integer
    ticks. Axis labels: ``xlabel``; the loss panel is "loss", the other panel
    (or the only one) ``ylabel``, else the metric the names share after a
    ``train_``/``val_``/``test_`` prefix (``val_accuracy`` -> "accuracy"). When
    neither says what is plotted, ValueError asks for ``ylabel``.
    """
    series = {name: values for name, values in _series(curves, "plot_curves").items()
              if name not in ("epoch", "lr")}
    losses = {name: values for name, values in series.items() if "loss" in name}
    others = {name: values for name, values in series.items() if "loss" not in name}
    panels = [group for group in (losses, others) if group]
    labels = [_panel_label(group, group is losses, ylabel, len(panels)) for group in panels]
    xs = {name: _x_values(x, name, len(values)) for name, values in series.items()}
    figure = _new_figure(6.4 * len(panels) if panels else 6.4)
    for index, group in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        for name, values in group.items():
            axes.plot(xs[name], values, label=name or None)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(labels[index])
        if all(float(value).is_integer() for name in group for value in xs[name]):
            from matplotlib.ticker import MaxNLocator
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))   # epoch 1, 2, not 1.5
        if logy and (group is losses or len(panels) == 1):
            axes.set_yscale("log")
        if any(group):
            axes.legend()
        axes.grid(alpha=0.3)
    return _save(figure, path, title)


def _panel_label(group: dict, is_loss: bool, ylabel: str | None, panels: int) -> str:
    """The y label of one panel of :func:`plot_curves` (never just "value")."""
    if ylabel is not None and (panels == 1 or not is_loss):
        return ylabel
    if is_loss:
        return "loss"
    metrics = set()
    for name in group:
        last = name.split(" ")[-1]
        for prefix in ("train_", "val_", "test_"):
            if last.startswith(prefix):
                metrics.add(last[len(prefix):].replace("_", " "))
                break
        else:
            metrics.add(None)
    if len(metrics) == 1 and None not in metrics:
        return metrics.pop()
    raise ValueError(f"plot_curves: name the y axis of {', '.join(map(repr, group))} with "
                     "ylabel=... (the names do not say what is plotted)")


def _x_values(x, name: str, length: int) -> list:
    """The x values of the curve ``name``: ``x`` (shared or per name), or 1, 2, ..., length."""
    if isinstance(x, dict):
        x = x.get(name)
    if x is None:
        return list(range(1, length + 1))
    values = [float(value) for value in _host(x).reshape(-1)]
    if len(values) != length:
        raise ValueError(f"plot_curves: {len(values)} x values for the {length} values of "
                         f"{name!r}")
    return values


def plot_lr_schedule(lrs, path: str, title: str | None = None, xlabel: str = "epoch",
                     logy: bool = False) -> str:
    """Learning rate against step: one list of rates, or ``{schedule name: rates}``."""
    figure = _new_figure()
    axes = figure.add_subplot()
    series = _series(lrs, "plot_lr_schedule")
    for name, values in series.items():
        axes.plot(range(len(values)), values, label=name or None, drawstyle="steps-post")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("learning rate")
    if logy:
        axes.set_yscale("log")
    if any(series):
        axes.legend()
    axes.grid(alpha=0.3)
    return _save(figure, path, title)


def plot_grad_norms(norms, path: str, names=None, title: str | None = None,
                    xlabel: str = "step") -> str:
    """Per-layer gradient norms over training, one line per layer, log scale.

    ``norms``: an array ``(steps, layers)`` (``Monitor.grad_norms``, with
    ``names=monitor.param_names``, one name per layer) or ``{layer: values over steps}``.
    """
    import numpy as np  # host-side plotting data

    if isinstance(norms, dict):
        series = _series(norms, "plot_grad_norms")
    else:
        table = _host(norms)
        if table.ndim == 0:
            raise ValueError("plot_grad_norms: norms is one number; expected an array "
                             "(steps, layers) or {layer: values}")
        names = list(names) if names is not None else None
        if table.shape == (0,) and names is not None:  # [] (no steps yet): a layer per name
            table = table.reshape(0, len(names))
        # (steps, layers); prod, not -1: an empty table (no steps yet) keeps its layers
        table = table.reshape(len(table), int(np.prod(table.shape[1:])))
        names = names if names is not None else [str(i) for i in range(table.shape[1])]
        if len(names) != table.shape[1]:  # (zip would drop layers, indexing fail in NumPy)
            raise ValueError(f"plot_grad_norms: {len(names)} names for the {table.shape[1]} "
                             f"layers of norms (shape {_host(norms).shape})")
        series = {str(name): table[:, column] for column, name in enumerate(names)}
    figure = _new_figure()
    axes = figure.add_subplot()
    count = max(len(series) - 1, 1)
    for index, (name, values) in enumerate(series.items()):
        # input-side layers dark, output-side layers light: depth reads as a colour ramp
        axes.plot(range(len(values)), values, label=name, color=_ramp(index / count))
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("gradient norm ||dL/dW||")
    axes.legend(fontsize="small", ncol=2 if len(series) > 10 else 1, loc="center left",
                bbox_to_anchor=(1.01, 0.5))  # outside the axes: lines stay visible
    axes.grid(alpha=0.3)
    return _save(figure, path, title)


def _ramp(fraction: float):
    """A colour from dark blue (0) to orange (1)."""
    start, end = (0.05, 0.1, 0.45), (1.0, 0.6, 0.1)
    return tuple(a + (b - a) * fraction for a, b in zip(start, end))


def plot_bars(values, path: str, ylabel: str | None = None, title: str | None = None,
              logy: bool = False, xlabel: str = "") -> str:
    """A bar chart: ``{label: number}`` (or a sequence: labels 0, 1, ...), or grouped
    bars side by side: ``{run: {label: number}}`` / ``{run: sequence}``. ``ylabel``
    (what the heights are) is required. ``logy``: a log axis, unless every bar is NaN/inf."""
    import numpy as np  # host-side plotting data

    if not ylabel:
        raise ValueError("plot_bars: name the y axis with ylabel=... (what the bars measure)")

    groups = _bar_groups(values)
    labels = list(dict.fromkeys(label for bars in groups.values() for label in bars))
    figure = _new_figure(min(12.0, max(6.4, 0.12 * len(labels) * len(groups) + 2.0)))
    axes = figure.add_subplot()
    positions = np.arange(len(labels))
    width = 0.8 / len(groups)
    for index, (run, bars) in enumerate(groups.items()):
        heights = [bars.get(label, np.nan) for label in labels]
        offset = (index - (len(groups) - 1) / 2) * width
        axes.bar(positions + offset, heights, width, label=run or None)
    crowded = len(labels) > 6
    axes.set_xticks(positions)
    axes.set_xticklabels(labels, rotation=45 if crowded else 0,
                         ha="right" if crowded else "center")
    axes.set_ylabel(ylabel)
    axes.set_xlabel(xlabel)
    every = np.array([height for bars in groups.values() for height in bars.values()])
    if logy and (np.isfinite(every).any() or not every.size):  # (every bar NaN/inf, as of a
        axes.set_yscale("log")                                 # diverged run: no log axis fits)
    if len(groups) > 1 or "" not in groups:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: bars stay visible
    axes.grid(alpha=0.3, axis="y")
    return _save(figure, path, title)


def _bar_groups(values) -> dict:
    """``{run: {label: height}}``; a flat input is the single run ``''``."""
    if isinstance(values, dict) and values and all(
            isinstance(bars, dict) or _host(bars).ndim > 0 for bars in values.values()):
        return {str(run): _labelled(bars) for run, bars in values.items()}
    return {"": _labelled(values)}


def _labelled(bars) -> dict:
    """``{label: float}`` from a dict, or from a sequence (labels 0, 1, ...)."""
    if isinstance(bars, dict):
        return {str(label): _height(label, value) for label, value in bars.items()}
    return {str(index): float(value) for index, value in enumerate(_host(bars).reshape(-1))}


def _height(label, value) -> float:
    """One bar's height; a sequence among numbers (``{'a': 1, 'b': [1, 2]}``) is an error."""
    height = None if isinstance(value, dict) else _host(value)
    if height is None or height.size != 1:
        raise ValueError(f"plot_bars: the bar {str(label)!r} is not one number (grouped bars: "
                         "give every run a dict or a sequence)")
    return float(height.reshape(()))


def plot_grad_norm_bars(norms, path: str, title: str | None = None) -> str:
    """Gradient norm per layer (at initialisation, say) as bars on a log scale:
    ``{layer: norm}`` for one model, or ``{model: {layer: norm}}`` side by side."""
    return plot_bars(norms, path, ylabel="gradient norm ||dL/dW|| (log)", title=title,
                     logy=True, xlabel="layer (input -> output)")


def plot_histograms(values, path: str, bins: int = 50, title: str | None = None,
                    logy: bool = True, xlabel: str | None = None) -> str:
    """One histogram per entry of ``{name: array}`` (e.g. the weights of differently
    regularised models), side by side, with the count of exact zeros in each title (and
    of NaN/inf values, which no bin holds). ``xlabel`` (what the values are, e.g.
    ``'weight'``) is required."""
    import numpy as np  # host-side plotting data

    if not xlabel:
        raise ValueError("plot_histograms: name the x axis with xlabel=... (what the values "
                         "are)")

    series = {name: data.reshape(-1)
              for name, data in _series(values, "plot_histograms").items()}
    if not series:
        raise ValueError("plot_histograms: values is empty: no histogram to draw")
    figure = _new_figure(4.0 * len(series), 3.8)
    for index, (name, data) in enumerate(series.items()):
        axes = figure.add_subplot(1, len(series), index + 1)
        finite = data[np.isfinite(data)]  # NaN/inf fit no bin (NumPy's range fails on inf)
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        half = max(0.5, abs(low) * 1e-6) if low == high else 0.0  # one value: NumPy's +-0.5
        axes.hist(finite, bins=bins, range=(low - half, high + half))  # is lost beside 1e30
        zeros = int(np.sum(data == 0))
        left_out = f", {data.size - finite.size} NaN/inf" if finite.size < data.size else ""
        axes.set_title(f"{name}\n{zeros}/{data.size} exactly 0{left_out}", fontsize="medium")
        axes.set_xlabel(xlabel)
        if logy:
            axes.set_yscale("log")
    return _save(figure, path, title)


def plot_trajectories(surface_fn, trajectories: dict, path: str, bounds=None, minima=None,
                      title: str | None = None, levels: int = 30,
                      resolution: int = 300) -> str:
    """Optimizer paths drawn over the contour lines of a 2-D function.

    ``surface_fn(p)`` takes a NumPy array ``p`` of shape ``(2, H, W)`` (the
    functions in ``tinygrad_opt.datasets`` do); ``trajectories`` maps a name to
    an array ``(T, 2)`` of visited points. ``bounds`` ``((xmin, xmax), (ymin, ymax))``
    and ``minima`` (a list of points, drawn as stars) default to the function's
    ``.bounds`` and ``.minima`` attributes. Contour levels are log-spaced when
    the function is positive on the window (or 0, then log-spaced from a millionth
    of the top, where it is 0 at its lowest: Rosenbrock's valley shows), else linear;
    a flat window has none.
    """
    import numpy as np  # host-side plotting data

    figure = _new_figure(6.4, 5.6)
    bounds = bounds if bounds is not None else getattr(surface_fn, "bounds", None)
    if bounds is None:
        raise ValueError("plot_trajectories: pass bounds=((xmin, xmax), (ymin, ymax)) "
                         "(surface_fn has no .bounds)")
    minima = minima if minima is not None else getattr(surface_fn, "minima", [])
    (x_min, x_max), (y_min, y_max) = bounds
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)
    grid = np.stack(np.meshgrid(xs, ys))                        # (2, H, W)
    heights = np.asarray(surface_fn(grid), dtype=np.float64)    # (H, W)
    axes = figure.add_subplot()
    low, high = heights.min(), heights.max()
    if high > low:  # a flat window has no contour lines (and matplotlib wants rising levels)
        if low > 0:
            contour_levels = np.geomspace(low, high, levels)
        elif low == 0:
            contour_levels = np.concatenate([[0], np.geomspace(high * 1e-6, high, levels - 1)])
        else:
            contour_levels = np.linspace(low, high, levels)
        axes.contour(xs, ys, heights, levels=contour_levels, cmap="viridis", linewidths=0.7)
    for name, points in trajectories.items():
        points = _host(points)
        if points.size and points.shape[-1:] != (2,):  # (a silent reshape would pair them up)
            raise ValueError(f"plot_trajectories: the points of {name!r} have shape "
                             f"{points.shape}; expected (T, 2)")
        points = points.reshape(-1, 2)                           # (T, 2)
        axes.plot(points[:, 0], points[:, 1], marker=".", markersize=3, linewidth=1.2,
                  label=name)
    for point in minima:
        axes.plot(point[0], point[1], marker="*", markersize=14, color="red", linestyle="")
    axes.set_xlim(x_min, x_max)
    axes.set_ylim(y_min, y_max)
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.legend(fontsize="small")
    return _save(figure, path, title)


def plot_decision_boundary(model, X, y, path: str, title: str | None = None,
                           resolution: int = 200, margin: float = 0.5) -> str:
    """The classes a model predicts over the plane, with the data points on top.

    ``X`` is ``(N, 2)``, ``y`` the integer labels. The model runs in eval mode
    without a graph on a ``resolution``² grid on its own device; outputs of shape
    ``(M, C)`` are arg-maxed, outputs ``(M,)`` or ``(M, 1)`` are logits (class 1
    where > 0). Afterwards every sub-module is back in the mode it had (a BatchNorm
    frozen in eval mode inside a training model stays frozen).
    """
    import numpy as np  # host-side plotting data

    from tinygrad_opt.autograd.grad_mode import no_grad
    from tinygrad_opt.tensor import Tensor
    from tinygrad_opt.train import eval_mode

    X = _host(X)
    labels = _host(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2 or not len(X):  # (a silent reshape would pair them up)
        raise ValueError(f"plot_decision_boundary: X has shape {X.shape}; expected (N, 2), "
                         "N >= 1")
    if len(labels) != len(X):
        raise ValueError(f"plot_decision_boundary: {len(labels)} labels y for {len(X)} "
                         "points X")
    figure = _new_figure(6.0, 5.4)
    xs = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    ys = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)  # (M, 2)
    device = next(iter(model.parameters())).device if list(model.parameters()) else "cpu"
    with no_grad(), eval_mode(model):
        scores = model(Tensor(points, device=device)).numpy()
    if scores.ndim == 2 and scores.shape[1] > 1:
        predicted = scores.argmax(axis=1)
    else:
        predicted = (scores.reshape(-1) > 0).astype(np.int64)
    axes = figure.add_subplot()
    axes.contourf(xs, ys, predicted.reshape(grid_x.shape), alpha=0.3, cmap="coolwarm",
                  levels=np.arange(predicted.max() + 2) - 0.5)
    axes.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", s=12, edgecolors="k",
                 linewidths=0.3)
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    return _save(figure, path, title)


def matplotlib_available() -> bool:
    """True when matplotlib imports (the plotting helpers would work)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
