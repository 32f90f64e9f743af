"""Recurrent layers (RNN, LSTM, GRU, their one-step cells) and Embedding.

A recurrent layer applies the same cell at every time step t, feeding it the
input x_t and its own previous state h_{t−1}. Everything here is a
composition of Tensor ops (matmul, sigmoid, tanh, *, +), so backpropagation
through time is just the engine's ordinary backward pass over the unrolled
graph: no special code.

The equations, with PyTorch's names, layouts and gate order (W_ih is
``weight_ih``, rows stacked gate by gate; σ is the sigmoid, ⊙ elementwise)::

    RNN    h' = tanh(W_ih x + b_ih + W_hh h + b_hh)          (or relu)

    LSTM   i  = σ(W_ii x + b_ii + W_hi h + b_hi)              input gate
           f  = σ(W_if x + b_if + W_hf h + b_hf)              forget gate
           g  = tanh(W_ig x + b_ig + W_hg h + b_hg)           candidate cell
           o  = σ(W_io x + b_io + W_ho h + b_ho)              output gate
           c' = f ⊙ c + i ⊙ g
           h' = o ⊙ tanh(c')
           weight_ih = [W_ii; W_if; W_ig; W_io]  (4H, input_size)

    GRU    r  = σ(W_ir x + b_ir + W_hr h + b_hr)              reset gate
           z  = σ(W_iz x + b_iz + W_hz h + b_hz)              update gate
           n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))     candidate
           h' = (1 − z) ⊙ n + z ⊙ h
           weight_ih = [W_ir; W_iz; W_in]  (3H, input_size)

Why the LSTM keeps gradients alive: along the cell path, ∂c'/∂c = f (an
elementwise factor the network can hold near 1), whereas a vanilla RNN
multiplies the gradient by W_hhᵀ·diag(tanh') at every step, which shrinks
(or blows up) geometrically with the number of steps.

The sequence is kept as a Python list of per-step tensors inside the layers
and stacked once at the end. Slicing step t out of a stacked (L, N, ·) tensor
would be simple, but the backward of every slice is a full (L, N, ·) array of
zeros with one row filled, so a sequence of length L would cost O(L²) in
backward; a list costs O(L).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import namedtuple

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.functional import embedding  # noqa: F401
from tinygrad_opt.nn.module import Module, Parameter, empty_parameter
from tinygrad_opt.tensor import Tensor


def _zeros_like_state(x: Tensor, shape) -> Tensor:
    """Zeros of ``shape`` with ``x``'s dtype and device (the default initial state)."""
    return Tensor(backend.get_xp(x.device).zeros(tuple(shape), dtype=x.dtype), device=x.device)


def _state_pair(hx, name: str) -> tuple:
    """An LSTM's ``hx``: ``(None, None)`` for None, else the pair ``(h, c)`` it must be;
    a lone Tensor (a common slip: h_0 alone) is refused, as PyTorch does."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        got = f"{len(hx)} items" if isinstance(hx, (tuple, list)) else type(hx).__name__
        raise TypeError(f"{name}: hx should be a pair (h_0, c_0), got {got}")
    if not all(isinstance(state, Tensor) for state in hx):
        # PyTorch reads both states; a missing c_0 is not silently zeros
        got = ", ".join(type(state).__name__ for state in hx)
        raise TypeError(f"{name}: hx should be a pair of Tensors (h_0, c_0), got ({got})")
    return tuple(hx)


# ------------------------------------------------------------- one time step, as functions
# Each step takes the input projection x_proj = x W_ihᵀ + b_ih (already computed)
# and the previous state; cells and full layers share these.

def rnn_step(x_proj: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None,
             nonlinearity: str = "tanh") -> Tensor:
    """h' = tanh(x_proj + h W_hhᵀ + b_hh) (or relu).   Shapes: (N, H) -> (N, H)."""
    pre_activation = x_proj + F.linear(h, weight_hh, bias_hh)  # (N, H)
    return pre_activation.tanh() if nonlinearity == "tanh" else pre_activation.relu()


def lstm_step(x_proj: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor,
              bias_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """One LSTM step (gate order i, f, g, o).   Shapes: (N, H), (N, H) -> (N, H), (N, H)."""
    gates = x_proj + F.linear(h, weight_hh, bias_hh)      # (N, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)                    # 4 × (N, H)
    i = i.sigmoid()                                        # input gate
    f = f.sigmoid()                                        # forget gate
    g = g.tanh()                                           # candidate cell
    o = o.sigmoid()                                        # output gate
    c = f * c + i * g                                      # c' = f⊙c + i⊙g
    h = o * c.tanh()                                       # h' = o⊙tanh(c')
    return h, c


def gru_step(x_proj: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """One GRU step (gate order r, z, n).   Shapes: (N, H) -> (N, H)."""
    h_proj = F.linear(h, weight_hh, bias_hh)               # (N, 3H): W_hh h + b_hh
    x_r, x_z, x_n = x_proj.chunk(3, dim=-1)                # 3 × (N, H)
    h_r, h_z, h_n = h_proj.chunk(3, dim=-1)                # 3 × (N, H)
    r = (x_r + h_r).sigmoid()                              # reset gate
    z = (x_z + h_z).sigmoid()                              # update gate
    n = (x_n + r * h_n).tanh()                             # candidate: r gates W_hn h + b_hn
    return (1 - z) * n + z * h                             # h' = (1−z)⊙n + z⊙h


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ------------------------------------------------------------------------------- cells

class _CellBase(Module):
    """Parameters of one cell: weight_ih (G·H, in), weight_hh (G·H, H), bias_ih, bias_hh (G·H,).

    All initialised U(−1/√H, 1/√H), PyTorch's default (G = number of gates).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gates: int,
                 device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = empty_parameter((gates * hidden_size, input_size), device, dtype)
        self.weight_hh = empty_parameter((gates * hidden_size, hidden_size), device, dtype)
        if bias:
            self.bias_ih = empty_parameter((gates * hidden_size,), device, dtype)
            self.bias_hh = empty_parameter((gates * hidden_size,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def _prepare(self, x: Tensor, state: Tensor | None, name: str):
        """Accept (N, in) or unbatched (in,) input; default state zeros; check shapes
        and dtypes."""
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input (N, {self.input_size}) or "
                             f"({self.input_size},), got shape {x.shape}")
        if state is not None and not isinstance(state, Tensor):
            raise TypeError(f"{name}: hx should be a Tensor or None, got "
                            f"{type(state).__name__}")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)                             # (1, in)
        if state is None:
            state = _zeros_like_state(x, (x.shape[0], self.hidden_size))
        elif not batched:
            state = state.unsqueeze(0)
        if state.shape != (x.shape[0], self.hidden_size):
            raise ValueError(f"{name}: input of shape {x.shape} needs a state of shape "
                             f"{(x.shape[0], self.hidden_size)}, got {state.shape}")
        # PyTorch's matmuls refuse mixed dtypes; promoting would change the output's dtype
        if x.dtype != self.weight_ih.dtype or state.dtype != self.weight_ih.dtype:
            raise RuntimeError(f"{name}: input ({x.dtype}) and state ({state.dtype}) must have "
                               f"the weights' dtype {self.weight_ih.dtype}")
        return x, state, batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text if self.bias else text + ", bias=False"


class RNNCell(_CellBase):
    """One step of an Elman RNN: ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``
    (``nonlinearity='relu'`` uses relu). Input (N, input_size) or (input_size,);
    ``hx`` (N, hidden_size), zeros by default; returns h' of hx's shape."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}': "
                             "expected 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, h, batched = self._prepare(input, hx, "RNNCell")
        x_proj = F.linear(input, self.weight_ih, self.bias_ih)  # (N, H)
        h = rnn_step(x_proj, h, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity=relu"


class LSTMCell(_CellBase):
    """One LSTM step (equations in the module docstring; gate order i, f, g, o).
    ``hx`` is a pair ``(h, c)`` of (N, hidden_size), zeros by default; returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        h, c = _state_pair(hx, "LSTMCell")
        _, c, _ = self._prepare(input, c, "LSTMCell")
        input, h, batched = self._prepare(input, h, "LSTMCell")
        x_proj = F.linear(input, self.weight_ih, self.bias_ih)  # (N, 4H)
        h, c = lstm_step(x_proj, h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """One GRU step (equations in the module docstring; gate order r, z, n).
    ``hx`` (N, hidden_size), zeros by default; returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, h, batched = self._prepare(input, hx, "GRUCell")
        x_proj = F.linear(input, self.weight_ih, self.bias_ih)  # (N, 3H)
        h = gru_step(x_proj, h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


# ------------------------------------------------------------------------ full layers

class _RNNBase(Module):
    """A stack of ``num_layers`` recurrent layers run over a whole sequence.

    Input ``(L, N, input_size)`` (``(N, L, input_size)`` with ``batch_first``,
    or unbatched ``(L, input_size)``). Layer l > 0 reads the outputs of layer
    l−1 (with dropout ``dropout`` between layers in training). With
    ``bidirectional`` each layer also runs a second cell from t = L−1 down to
    0 and the two outputs are concatenated (the ``_reverse`` parameters).
    The input may also be a :class:`PackedSequence` (sequences of different
    lengths): each sequence then stops at its own length, the output is a
    PackedSequence with the same ``batch_sizes`` and indices, and the final
    states are each sequence's last real step, in the caller's batch order.
    Parameters per layer l, PyTorch's names: ``weight_ih_l{l}``,
    ``weight_hh_l{l}``, ``bias_ih_l{l}``, ``bias_hh_l{l}`` (and ``..._reverse``),
    all U(−1/√H, 1/√H).

    ``proj_size = P > 0`` (LSTM only, P < H): each step's h is projected to P
    features, ``h_t = W_hr (o ⊙ tanh(c_t))`` with ``weight_hr_l{l}`` (P, H); h, the
    outputs and ``weight_hh`` (4H, P) then have P features, c keeps H.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        if (not isinstance(dropout, numbers.Real) or isinstance(dropout, bool)
                or not 0.0 <= dropout <= 1.0):
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing "
                             f"the probability of an element being zeroed, got {dropout!r}")
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to "
                             f"disable projections, got {proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN "
                             "or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size {proj_size} has to be smaller than "
                             f"hidden_size {hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but "
                          f"got dropout={dropout} and num_layers={num_layers}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gates = _GATES[mode]
        directions = 2 if bidirectional else 1
        out_size = proj_size or hidden_size              # the features of h and the outputs
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for suffix in ("", "_reverse")[:directions]:
                # Registration order = PyTorch's state_dict order.
                setattr(self, f"weight_ih_l{layer}{suffix}",
                        empty_parameter((gates * hidden_size, layer_input), device, dtype))
                setattr(self, f"weight_hh_l{layer}{suffix}",
                        empty_parameter((gates * hidden_size, out_size), device, dtype))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}",
                            empty_parameter((gates * hidden_size,), device, dtype))
                    setattr(self, f"bias_hh_l{layer}{suffix}",
                            empty_parameter((gates * hidden_size,), device, dtype))
                if proj_size:
                    setattr(self, f"weight_hr_l{layer}{suffix}",
                            empty_parameter((proj_size, hidden_size), device, dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do here: PyTorch packs the weights into one block for cuDNN; the
        weights here are always used as they are (kept so that PyTorch code runs)."""

    @property
    def _all_weights(self) -> list[list[str]]:
        """The parameter names of each layer and direction, in PyTorch's order:
        ``[['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'], ...]``
        (``_reverse`` lists after each layer's forward one; ``weight_hr`` last)."""
        directions = ("", "_reverse")[:2 if self.bidirectional else 1]
        kinds = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        return [[f"{kind}_l{layer}{suffix}" for kind in kinds
                 if getattr(self, f"{kind}_l{layer}{suffix}", None) is not None]
                for layer in range(self.num_layers) for suffix in directions]

    @property
    def _flat_weights_names(self) -> list[str]:
        """Every parameter name, in the order of :attr:`_all_weights`."""
        return [name for names in self._all_weights for name in names]

    @property
    def _flat_weights(self) -> list[Parameter]:
        """Every parameter, in the order of :attr:`_flat_weights_names`."""
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction (the lists of :attr:`_all_weights`)."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _weights(self, layer: int, suffix: str):
        """``(weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)`` of one layer and direction
        (None for the biases without ``bias``, for weight_hr without ``proj_size``)."""
        get = lambda kind: getattr(self, f"{kind}_l{layer}{suffix}", None)  # noqa: E731
        return (get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"),
                get("weight_hr"))

    def _num_states(self) -> int:
        return self.num_layers * (2 if self.bidirectional else 1)

    def _check_input(self, x: Tensor) -> bool:
        """Raise on a wrong input shape; return whether the input is batched."""
        name = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, L, in)" if self.batch_first else "(L, N, in)"
            raise ValueError(f"{name}: expected input {layout} or (L, in) with "
                             f"in = {self.input_size}, got shape {x.shape}")
        self._check_dtype(x)
        time_dim = 1 if x.ndim == 3 and self.batch_first else 0
        if x.shape[time_dim] == 0:  # PyTorch refuses it too: there would be no final state
            raise ValueError(f"{name}: expected sequence length to be larger than 0, got "
                             f"input of shape {x.shape}")
        return x.ndim == 3

    def _check_dtype(self, x: Tensor) -> None:
        """The input must have the weights' dtype, as PyTorch's ``check_input`` demands
        (promoting would silently return another dtype than the module's)."""
        if x.dtype != self.weight_ih_l0.dtype:
            raise ValueError(f"{type(self).__name__}: input must have the type "
                             f"{self.weight_ih_l0.dtype}, got type {x.dtype}")

    def _initial_state(self, x: Tensor, batch: int, state: Tensor | None, batched: bool,
                       what: str):
        """The given state (checked; unbatched made batched) or zeros of x's dtype and
        device: (layers·D, N, H) with N = ``batch`` (H = proj_size for h_0 with a projection)."""
        size = self.proj_size if what == "h_0" and self.proj_size else self.hidden_size
        shape = (self._num_states(), batch, size)
        if state is None:
            return _zeros_like_state(x, shape)
        if state.ndim != (3 if batched else 2):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ValueError(f"{type(self).__name__}: for {kind} input, {what} should also be "
                             f"{3 if batched else 2}-D, got shape {state.shape}")
        if not batched:
            state = state.unsqueeze(1)
        if state.shape != shape:
            raise ValueError(f"{type(self).__name__}: input of shape {x.shape} needs {what} of "
                             f"shape {shape} (num_layers·directions, N, hidden_size), "
                             f"got {state.shape}")
        if state.dtype != x.dtype:  # PyTorch's kernels refuse a mixed-dtype step
            raise RuntimeError(f"{type(self).__name__}: {what} has dtype {state.dtype} but "
                               f"the input has {x.dtype}")
        return state

    def _run(self, steps: list[Tensor], states: list[Tensor]):
        """Run all layers over ``steps``, the input of each time step: L × (N_t, in)
        with N_0 ≥ N_1 ≥ ... (all N for a padded batch; fewer once the shorter
        sequences of a packed batch have ended). ``states``: one (layers·D, N, H) per
        state kind (h, or h and c). Returns the last layer's outputs L × (N_t, D·H)
        and the final states, each (layers·D, N, H).

        Step t updates the first N_t rows of the state and keeps the others: a row
        whose sequence has ended keeps its last real state (forward direction), and
        a row whose sequence has not started yet keeps the initial state (reverse).
        """
        directions = 2 if self.bidirectional else 1
        length = len(steps)
        batch = states[0].shape[1]
        finals = [[] for _ in states]                     # per state kind, per (layer, dir)
        for layer in range(self.num_layers):
            direction_outputs = []
            for direction in range(directions):
                weight_ih, weight_hh, bias_ih, bias_hh, weight_hr = self._weights(
                    layer, "_reverse" if direction else "")
                state = [s[layer * directions + direction] for s in states]  # each (N, H)
                times = range(length - 1, -1, -1) if direction else range(length)
                outputs = [None] * length
                for t in times:
                    running = steps[t].shape[0]           # N_t
                    x_proj = F.linear(steps[t], weight_ih, bias_ih)  # (N_t, G·H)
                    if running == batch:
                        state = self._step(x_proj, state, weight_hh, bias_hh, weight_hr)
                    else:
                        active = [s[:running] for s in state]         # each (N_t, H)
                        active = self._step(x_proj, active, weight_hh, bias_hh, weight_hr)
                        state = [tg.cat([new, old[running:]], dim=0)  # (N, H)
                                 for new, old in zip(active, state)]
                    outputs[t] = state[0][:running] if running < batch else state[0]
                direction_outputs.append(outputs)
                for kind, final in zip(finals, state):
                    kind.append(final)
            if directions == 1:
                steps = direction_outputs[0]              # L × (N_t, H)
            else:                                         # L × (N_t, 2H): [forward, reverse]
                steps = [tg.cat(pair, dim=1) for pair in zip(*direction_outputs)]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                steps = [F.dropout(step, self.dropout, True) for step in steps]
        return steps, [tg.stack(kind, dim=0) for kind in finals]

    def _step(self, x_proj: Tensor, state: list, weight_hh, bias_hh, weight_hr) -> list:
        raise NotImplementedError

    def _forward(self, x: Tensor, hx: list):
        """Shared forward: layouts in, ``_run``, layouts out."""
        for what, state in zip(("hx" if len(hx) == 1 else "h_0", "c_0"), hx):
            if state is not None and not isinstance(state, Tensor):
                raise TypeError(f"{type(self).__name__}: {what} should be a Tensor or None, "
                                f"got {type(state).__name__}")
        if isinstance(x, PackedSequence):
            return self._forward_packed(x, hx)
        batched = self._check_input(x)
        if not batched:
            x = x.unsqueeze(1)                            # (L, 1, in)
        elif self.batch_first:
            x = x.transpose(0, 1)                         # (N, L, in) -> (L, N, in)
        what = ("h_0", "c_0")
        states = [self._initial_state(x, x.shape[1], s, batched, what[k])
                  for k, s in enumerate(hx)]
        steps, finals = self._run([x[t] for t in range(x.shape[0])], states)
        output = tg.stack(steps, dim=0)                   # (L, N, D·H)
        if not batched:
            return output.squeeze(1), [final.squeeze(1) for final in finals]
        if self.batch_first:
            output = output.transpose(0, 1)               # (N, L, D·H)
        return output, finals

    def _forward_packed(self, packed: PackedSequence, hx: list):
        """A PackedSequence in, a PackedSequence out (same batch_sizes and indices).

        ``hx`` and the final states are in the caller's batch order; inside, rows
        follow the packed (sorted) order, so they are permuted on the way in and out.
        """
        data = packed.data                                # (Σ lengths, in)
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected packed data (Σ lengths, "
                             f"{self.input_size}), got shape {data.shape}")
        self._check_dtype(data)
        batch_sizes = [int(size) for size in backend.to_host(packed.batch_sizes.data)]
        what = ("h_0", "c_0")
        states = []
        for kind, state in enumerate(hx):
            if state is not None and packed.sorted_indices is not None:
                state = state.index_select(1, packed.sorted_indices)  # caller's -> sorted
            states.append(self._initial_state(data, batch_sizes[0], state, True, what[kind]))
        steps = list(data.split(batch_sizes, dim=0))      # L × (N_t, in)
        steps, finals = self._run(steps, states)
        output = PackedSequence(tg.cat(steps, dim=0), packed.batch_sizes,
                                packed.sorted_indices, packed.unsorted_indices)
        if packed.unsorted_indices is not None:           # sorted -> caller's order
            finals = [final.index_select(1, packed.unsorted_indices) for final in finals]
        return output, finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"           # PyTorch's order
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


def _refuse_projection(proj_size, name: str) -> None:
    """PyTorch's RNN and GRU refuse a ``proj_size`` keyword, even 0: only LSTM projects."""
    if proj_size is not None:
        raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN or "
                         f"GRU (got proj_size={proj_size!r})")


class RNN(_RNNBase):
    """Elman RNN over a sequence: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)``
    per layer (``nonlinearity='relu'`` for relu).

    ``forward(input, hx=None)`` returns ``(output, h_n)``: output ``(L, N, D·H)``
    (``(N, L, D·H)`` with ``batch_first``) holds the last layer's h_t for every
    t; h_n ``(num_layers·D, N, H)`` the final state of every layer. ``hx`` is
    the initial state of that shape (zeros by default). See ``_RNNBase``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None,
                 *, proj_size=None):
        _refuse_projection(proj_size, "RNN")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}': "
                             "expected 'tanh' or 'relu'")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _step(self, x_proj, state, weight_hh, bias_hh, weight_hr=None):
        return [rnn_step(x_proj, state[0], weight_hh, bias_hh, self.nonlinearity)]

    def forward(self, input: Tensor, hx: Tensor | None = None):
        output, (h_n,) = self._forward(input, [hx])
        return output, h_n

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity=relu"


class LSTM(_RNNBase):
    """Long short-term memory over a sequence (equations in the module docstring).

    ``forward(input, hx=None)`` returns ``(output, (h_n, c_n))``; ``hx`` is a
    pair ``(h_0, c_0)``, each ``(num_layers·D, N, H)``, zeros by default.
    Shapes otherwise as :class:`RNN`. With ``proj_size = P`` (0 < P < H), h is
    projected, ``h_t = W_hr (o_t ⊙ tanh(c_t))``: output ``(L, N, D·P)`` and h_0, h_n
    ``(num_layers·D, N, P)``, while c_0, c_n stay ``(num_layers·D, N, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)

    def _step(self, x_proj, state, weight_hh, bias_hh, weight_hr=None):
        h, c = lstm_step(x_proj, state[0], state[1], weight_hh, bias_hh)  # (N, H) each
        if weight_hr is not None:
            h = F.linear(h, weight_hr)                     # (N, P): h = W_hr (o ⊙ tanh(c))
        return [h, c]

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        h_0, c_0 = _state_pair(hx, "LSTM")
        output, (h_n, c_n) = self._forward(input, [h_0, c_0])
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit over a sequence (equations in the module docstring).

    ``forward(input, hx=None)`` returns ``(output, h_n)``, shapes as :class:`RNN`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, *, proj_size=None):
        _refuse_projection(proj_size, "GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)

    def _step(self, x_proj, state, weight_hh, bias_hh, weight_hr=None):
        return [gru_step(x_proj, state[0], weight_hh, bias_hh)]

    def forward(self, input: Tensor, hx: Tensor | None = None):
        output, (h_n,) = self._forward(input, [hx])
        return output, h_n


# --------------------------------------------------------------------------- embedding

class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    ``forward(indices)``: integer indices ``(*)`` -> ``(*, embedding_dim)``.
    ``weight`` is initialised N(0, 1), as PyTorch; the row ``padding_idx`` (if
    given; negative counts from the end) starts at zero and never receives a
    gradient, so it stays what it is (see :func:`embedding`). With ``max_norm``, each
    looked-up row whose ``norm_type``-norm exceeds it is rescaled to that norm in place
    first (no gradient through the rescaling). ``scale_grad_by_freq`` divides each row's
    gradient by its index's count in the mini-batch; ``sparse`` is refused (no sparse
    tensors). PyTorch's argument order.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device=None,
                 dtype=None):
        super().__init__()
        if sparse:
            raise NotImplementedError("Embedding: sparse=True is not supported: sparse "
                                      "gradients need sparse tensors, and there are none "
                                      "here (use sparse=False)")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"num_embeddings {num_embeddings}")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse  # sparse: False
        if _weight is None:
            self.weight = empty_parameter((num_embeddings, embedding_dim), device, dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: weight of shape {_weight.shape} does not match "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight.detach())
        self.weight.requires_grad_(not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
            self.weight._version += 1

    def forward(self, input) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm,
                         self.norm_type, self.scale_grad_by_freq)  # (*) -> (*, D)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose weight is ``embeddings`` (N, D); frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a 2-D tensor, got shape "
                             f"{embeddings.shape}")
        return cls(embeddings.shape[0], embeddings.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=embeddings, _freeze=freeze)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        return text + (", scale_grad_by_freq=True" if self.scale_grad_by_freq else "")


# ------------------------------------------------------------------- packed sequences
# A batch of sequences of different lengths, without padding. Sorted by length (longest
# first), step t holds the batch_sizes[t] sequences that are still running, so
#
#     lengths (3, 2, 1)     data rows:  a0 b0 c0 | a1 b1 | a2      batch_sizes (3, 2, 1)
#
# An RNN fed a PackedSequence runs step t on data rows of step t only: each sequence
# stops at its own length, and its final state is its last real step, not padding.

_PackedFields = namedtuple("PackedSequence",
                           ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedFields):
    """Sequences of different lengths packed step by step, as ``torch.nn.utils.rnn``'s.

    ``data`` (Σ lengths, *): the steps, time-major: the step-0 rows of every sequence,
    then the step-1 rows of those still running, ... (sorted by decreasing length).
    ``batch_sizes`` (int64 on cpu, length max L): how many sequences run at step t.
    ``sorted_indices``: original batch index of sorted position b (None if the batch
    was given sorted); ``unsorted_indices`` its inverse permutation. Build one with
    :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand.
    """

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None, unsorted_indices: Tensor | None = None):
        if batch_sizes is None and isinstance(data, (tuple, list)) and len(data) == 2:
            data, batch_sizes = data               # PyTorch's PackedSequence((data, sizes))
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required (build one with "
                            "pack_padded_sequence or pack_sequence)")
        if isinstance(batch_sizes, Tensor) and batch_sizes.device != "cpu":
            raise ValueError(f"PackedSequence: batch_sizes should always be on CPU, got it "
                             f"on '{batch_sizes.device}' (build one with pack_padded_sequence "
                             "or pack_sequence)")
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _inverse_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        """The same sequences with ``data.to(...)``; the indices follow data's device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = lambda index: None if index is None else index.to(data.device)  # noqa: E731
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def pin_memory(self) -> "PackedSequence":
        """Itself: host memory needs no pinning here (see ``Tensor.pin_memory``)."""
        return self

    def cpu(self, *args, **kwargs) -> "PackedSequence":
        """``to('cpu')``: data and the sort indices on the host (itself if already there).
        Other arguments are ``to``'s (a dtype, ``non_blocking``, ``memory_format``)."""
        return self.to(*args, **{**kwargs, "device": "cpu"})

    def cuda(self, *args, **kwargs) -> "PackedSequence":
        """``to('cuda')``: data and the sort indices on the GPU; raises without one. A
        device index (``cuda(0)``) names the one GPU; other arguments are ``to``'s."""
        args = tuple(arg for arg in args if isinstance(arg, bool) or not isinstance(
            arg, (int, str)))                      # the device: 0, 'cuda' or 'cuda:0'
        return self.to(*args, **{**kwargs, "device": "cuda"})

    def double(self) -> "PackedSequence":
        """``data`` as float64; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.float64)

    def float(self) -> "PackedSequence":
        """``data`` as float32; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.float32)

    def half(self) -> "PackedSequence":
        """``data`` as float16; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.float16)

    def long(self) -> "PackedSequence":
        """``data`` as int64; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.int64)

    def int(self) -> "PackedSequence":
        """``data`` as int32; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.int32)

    def short(self) -> "PackedSequence":
        """``data`` as int16; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.as_dtype("int16"))

    def char(self) -> "PackedSequence":
        """``data`` as int8; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.as_dtype("int8"))

    def byte(self) -> "PackedSequence":
        """``data`` as uint8; batch_sizes and the indices kept as they are."""
        return self.to(dtype=backend.as_dtype("uint8"))

    def is_pinned(self) -> bool:
        """Whether ``data`` is in pinned host memory: always False here (``pin_memory``
        is a no-op, host memory needs no pinning for the copies of this framework)."""
        return False

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` lives on a CUDA device."""
        return self.data.device == "cuda"


def _host_ints(values, what: str):
    """A 1-D host int64 array from a list or a Tensor (an explicit copy to the host)."""
    array = backend.to_host(values.data) if isinstance(values, Tensor) else values
    array = backend.get_xp("cpu").asarray(array, dtype="int64")
    if array.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D list of lengths, got shape {array.shape}")
    return array


def _index_tensor(array, device: str) -> Tensor:
    """An int64 index Tensor on ``device`` from a host array."""
    return Tensor(backend.to_device(array, device), device=device)


def _inverse_permutation(permutation: Tensor) -> Tensor:
    """``inverse[permutation[i]] = i``."""
    host = backend.to_host(permutation.data)
    inverse = backend.get_xp("cpu").empty_like(host)
    inverse[host] = backend.get_xp("cpu").arange(host.shape[0])
    return _index_tensor(inverse, permutation.device)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (max L, B, *) Tensor (``(B, max L, *)``
    with ``batch_first``), filling the missing steps with ``padding_value`` on the
    ``padding_side`` ('right' or 'left'). Differentiable in every sequence.

    As PyTorch's, the result has the first sequence's dtype and device: the others are
    cast and copied into it, not promoted."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', "
                         f"got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    for sequence in sequences:
        if sequence.ndim == 0:
            raise ValueError(f"pad_sequence: expected sequences at least 1-D (L_i, *), got "
                             f"shape {sequence.shape}")
    longest = max(sequence.shape[0] for sequence in sequences)
    dtype, device = sequences[0].dtype, sequences[0].device
    padded = []
    for sequence in sequences:
        sequence = sequence.to(device=device, dtype=dtype)
        missing = longest - sequence.shape[0]
        if missing:
            fill = tg.full((missing, *sequence.shape[1:]), padding_value,
                           dtype=sequence.dtype, device=sequence.device)  # (missing, *)
            pair = [sequence, fill] if padding_side == "right" else [fill, sequence]
            sequence = tg.cat(pair, dim=0)                                  # (max L, *)
        padded.append(sequence)
    return tg.stack(padded, dim=0 if batch_first else 1)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (L, B, *) (``(B, L, *)`` with ``batch_first``) whose sequence b
    has ``lengths[b]`` real steps. ``enforce_sorted=True`` needs lengths in decreasing
    order; ``False`` sorts them (``sorted_indices``) and unsorts on unpacking.

    ``data`` is one gather of the real steps, so gradients flow back into ``input``.
    ``lengths`` is a list or a CPU Tensor: as PyTorch, lengths on a device are refused
    (reading them would be a hidden device-to-host copy).
    """
    host = backend.get_xp("cpu")
    if isinstance(lengths, Tensor) and lengths.device != "cpu":
        raise RuntimeError(f"pack_padded_sequence: 'lengths' argument should be a 1D CPU "
                           f"int64 tensor, but got {lengths.ndim}D {lengths.device} "
                           f"{lengths.dtype} tensor")
    lengths = _host_ints(lengths, "pack_padded_sequence")
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2 or lengths.shape[0] != input.shape[batch_dim]:
        raise ValueError(f"pack_padded_sequence: {lengths.shape[0]} lengths for an input of "
                         f"shape {input.shape} with batch_first={batch_first}")
    sorted_indices = None
    if enforce_sorted:
        if (lengths[:-1] < lengths[1:]).any():
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
    else:
        order = host.argsort(-lengths, kind="stable")           # longest first
        lengths = lengths[order]
        sorted_indices = _index_tensor(order, input.device)
        input = input.index_select(batch_dim, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)                             # (L, B, *)
    steps, batch = input.shape[0], input.shape[1]
    if input.numel() == 0:  # as PyTorch: no RNN could run an empty packed batch
        raise RuntimeError(f"pack_padded_sequence: cannot pack empty tensors, got input of "
                           f"shape {input.shape}")
    if lengths.shape[0] and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if lengths.shape[0] and lengths.max() > steps:
        raise RuntimeError(f"pack_padded_sequence: a length of {lengths.max()} is longer than "
                           f"the {steps} steps of the input of shape {input.shape}")
    max_length = int(lengths[0]) if lengths.shape[0] else 0
    batch_sizes = (lengths[None, :] > host.arange(max_length)[:, None]).sum(axis=1)  # (max L,)
    rows = [t * batch + host.arange(batch_sizes[t]) for t in range(max_length)]
    rows = host.concatenate(rows) if rows else host.zeros((0,), dtype="int64")
    flat = input.reshape(steps * batch, *input.shape[2:])         # (L·B, *)
    data = flat.index_select(0, _index_tensor(rows, input.device))  # (Σ lengths, *)
    batch_sizes = Tensor(batch_sizes.astype("int64"), device="cpu")  # (on the CPU, as PyTorch's)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None):
    """The inverse of :func:`pack_padded_sequence`: ``(padded, lengths)``, padded
    (T, B, *) (``(B, T, *)`` with ``batch_first``) in the original batch order,
    T = ``total_length`` or the longest length; lengths int64 on cpu.

    One gather from ``[data; padding_value]``: a padding position reads the extra
    row, so gradients flow back into ``data`` and nowhere from the padding.
    """
    host = backend.get_xp("cpu")
    data = sequence.data
    batch_sizes = _host_ints(sequence.batch_sizes, "pad_packed_sequence")
    max_length = batch_sizes.shape[0]
    if total_length is None:
        total_length = max_length
    elif total_length < max_length:
        raise ValueError("Expected total_length to be at least the length of the longest "
                         f"sequence in input, but got total_length={total_length} and max "
                         f"sequence length being {max_length}")
    batch = int(batch_sizes[0]) if max_length else 0
    offsets = host.concatenate([[0], host.cumsum(batch_sizes)])     # first row of each step
    position = host.arange(batch)                                   # sorted position b
    if sequence.unsorted_indices is not None:                       # column j reads its
        position = backend.to_host(sequence.unsorted_indices.data)  # sorted position
    padding_row = data.shape[0]
    rows = host.full((total_length, batch), padding_row, dtype="int64")  # (T, B)
    for t in range(max_length):
        running = position < batch_sizes[t]
        rows[t, running] = offsets[t] + position[running]
    fill = tg.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    extended = tg.cat([data, fill], dim=0)                          # (Σ lengths + 1, *)
    padded = extended.index_select(0, _index_tensor(rows.reshape(-1), data.device))
    padded = padded.reshape(total_length, batch, *data.shape[1:])   # (T, B, *)
    if batch_first:
        padded = padded.transpose(0, 1)                             # (B, T, *)
    lengths = (batch_sizes[None, :] > position[:, None]).sum(axis=1)  # (B,) original order
    return padded, Tensor(lengths.astype("int64"), device="cpu")  # (CPU, as PyTorch's)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) Tensors: ``pack_padded_sequence(pad_sequence(sequences),
    [L_i])``; ``enforce_sorted=True`` needs them longest first."""
    sequences = list(sequences)
    lengths = [sequence.shape[0] for sequence in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The list of sequences ``padded[:lengths[b], b]`` (``padded[b, :lengths[b]]`` with
    ``batch_first``): the inverse of :func:`pad_sequence`."""
    lengths = _host_ints(lengths, "unpad_sequence")
    batch = padded_sequences.shape[0 if batch_first else 1]
    if lengths.shape[0] != batch:
        raise ValueError(f"unpad_sequence: {lengths.shape[0]} lengths for the {batch} "
                         f"sequences of padded_sequences of shape "
                         f"{tuple(padded_sequences.shape)} (batch_first={batch_first})")
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)        # (B, L, *)
    return [padded_sequences[b, :int(length)] for b, length in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of the packed sequences, each (L_i, *), in the original order: the
    inverse of :func:`pack_sequence`."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
