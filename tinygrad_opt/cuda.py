"""``tg.cuda``: whether a GPU is there, its seed, and ``capture``: a training step
recorded once as a CUDA graph and replayed.

Why capture pays. On a GPU every op of a step is a kernel that Python launches,
5-15 us of host work each, while a small network's kernels take less than that to
run: the step is bound by launches, not by the GPU (docs/benchmarks.md). CUDA can
record a stream's work into a graph (``cudaStreamBeginCapture``): the same kernels
with the same arguments and the same memory addresses, launched again later by one
call. ``capture(step_fn, *example_inputs)`` runs ``step_fn`` a few times as usual
(warm-up: the optimizer's state and the memory the step needs come to exist), then
once under capture, and returns a callable that copies new inputs into the
captured input buffers and relaunches the graph: no Python runs per op.

What this asks of the step, because replays repeat exactly what was recorded:

* no matrix products: CuPy (14.2) refuses cuBLAS calls during a capture, so a step
  with ``nn.Linear`` or ``@`` raises, naming the op (docs/cuda-graphs.md);
* fixed shapes and dtypes (the inputs of every replay match the examples);
* nothing that reads device values on the host (``.item()``, ``.numpy()``, printing
  a tensor, a shape that depends on the data): that raises, naming the place;
* hyperparameters fixed at capture: a replay after a scheduler changed a learning
  rate raises; so does an optimizer whose update depends on its step count on the
  host (Adam's bias correction): capture the forward and backward and call
  ``optimizer.step()`` after each replay instead;
* ``optimizer.zero_grad()`` inside the step, as usual, so that each replay starts
  from fresh gradients.

Checks of the inputs that eager mode makes on the host (class indices in range)
run before each replay, on the new inputs.

The graph's temporaries live in a memory pool of its own, kept as long as the
replay function: nothing else can be given that memory between replays.
"""

from __future__ import annotations

import os
import traceback
from typing import Callable

from tinygrad_opt import backend

WARMUP_STEPS = 3  # eager steps before capture (optimizer state, memory, compiled kernels)

_active = None  # the Capture being recorded, if any (one at a time)


def is_available() -> bool:
    """True when CuPy imports and sees at least one GPU (as ``torch.cuda.is_available``)."""
    return backend.cuda_available()


def manual_seed(seed: int) -> None:
    """``tg.manual_seed(seed)``: seeds every random source (NumPy, and CuPy if present)."""
    backend.manual_seed(seed)


def capturing() -> bool:
    """True while ``capture`` records a step (library code asks before a host read)."""
    return _active is not None


def before_each_replay(check: Callable[[], None]) -> None:
    """Run ``check()`` before every replay of the step being captured: a host-side
    check that eager mode makes on every step but a graph cannot record."""
    _active.checks.append(check)


class CaptureError(RuntimeError):
    """What the step did cannot be recorded in a CUDA graph (or the capture is misused)."""


class Capture:
    """A recorded step: call it with new inputs (like the examples) to replay it."""

    def __init__(self, step_fn: Callable, example_inputs: tuple, warmup: int):
        cupy = backend.get_xp("cuda")
        from tinygrad_opt.tensor import Tensor
        self.checks, self.kept = [], []
        self.pool = cupy.cuda.MemoryPool()       # the graph's own memory
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.inputs = [Tensor._make(x.data.copy(), x.requires_grad) for x in example_inputs]
        cupy.cuda.Device().synchronize()  # the side stream does not wait for the default one
        global _active
        with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            for _ in range(warmup):
                step_fn(*self.inputs)
            self.stream.synchronize()
            _active = self
            self.stream.begin_capture()
            try:
                with cupy.cuda.using_allocator(self._malloc_kept):
                    self.output = step_fn(*self.inputs)
            except CaptureError:
                _end_failed_capture(self.stream)
                raise
            except Exception as error:
                _end_failed_capture(self.stream)
                raise CaptureError(_explain(error)) from error
            finally:
                _active = None
            self.graph = self.stream.end_capture()

    def _malloc_kept(self, size: int):
        """The recording's allocator: every block stays reserved while the graph lives.
        A block freed during the recording and handed out again would be shared by two
        arrays of the graph; that is safe for the graph's own kernels (they run in
        order) but not for anything written outside it while recording, so no block
        is handed out twice."""
        memory = self.pool.malloc(size)
        self.kept.append(memory)
        return memory

    def __call__(self, *inputs):
        """Copy ``inputs`` into the captured buffers, run the host checks, replay."""
        if len(inputs) != len(self.inputs):
            raise CaptureError(f"capture: the step was captured with {len(self.inputs)} "
                               f"inputs, this replay got {len(inputs)}")
        for number, (new, buffer) in enumerate(zip(inputs, self.inputs)):
            data = _on_the_gpu(new, f"input {number}")
            if data.shape != buffer.data.shape or data.dtype != buffer.data.dtype:
                raise CaptureError(
                    f"capture: input {number} has shape {data.shape} and dtype {data.dtype}; "
                    f"the step was captured with {buffer.data.shape} {buffer.data.dtype} "
                    "(replays repeat fixed shapes: capture again for others)")
            buffer.data[...] = data
        for check in self.checks:
            check()
        self.graph.launch()
        return self.output


def capture(step_fn: Callable, *example_inputs, warmup: int = WARMUP_STEPS) -> Capture:
    """Record one call of ``step_fn(*example_inputs)`` as a CUDA graph (see the module
    docstring); returns a callable ``replay(*inputs)`` that runs the step again on new
    inputs of the same shapes and returns what ``step_fn`` returned (the same tensor
    each time, overwritten by each replay: ``.item()`` or ``.clone()`` it to keep it).

    ``warmup`` eager calls of ``step_fn`` come first (at least 1: they are real steps,
    they train), on copies of the example inputs.
    """
    if not is_available():
        raise CaptureError("tinygrad_opt.cuda.capture records CUDA graphs: it needs CuPy "
                           "and an NVIDIA GPU (pip install 'tinygrad_opt[gpu]'); none found")
    if warmup < 1:
        raise CaptureError(f"capture: warmup must be at least 1 step, got {warmup} (the "
                           "optimizer's state must exist before the step is recorded)")
    for number, x in enumerate(example_inputs):
        _on_the_gpu(x, f"example input {number}")
    if _active is not None:
        raise CaptureError("capture: a step is being captured already (one at a time)")
    return Capture(step_fn, example_inputs, warmup)


def _on_the_gpu(x, what: str):
    """The array of ``x``, a tensor on 'cuda'; else a CaptureError naming ``what``."""
    data = getattr(x, "data", None)
    if not backend.is_array(data) or backend.device_of(data) != "cuda":
        where = f" on '{backend.device_of(data)}'" if backend.is_array(data) else ""
        raise CaptureError(f"capture: {what} must be a tensor on 'cuda', got "
                           f"{type(x).__name__}{where}")
    return data


def _end_failed_capture(stream) -> None:
    """End a capture that an error interrupted (CUDA invalidates it; ending it is
    what frees the stream again). Its own error, if any, is the first one's echo."""
    try:
        stream.end_capture()
    except Exception:
        pass


def _explain(error: Exception) -> str:
    """The error in words, naming the line of the step that caused it and the
    library function it called there (``Tensor.item``, say)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if "cupy" not in frame.filename and frame.filename != __file__]
    package = os.path.dirname(os.path.abspath(__file__))
    mine = [frame for frame in frames if not os.path.abspath(frame.filename).startswith(package)]
    library = [frame for frame in frames if frame not in mine]
    where = ""
    if mine:
        where += f" at {mine[-1].filename}:{mine[-1].lineno} ({mine[-1].name})"
    if library:
        relative = os.path.relpath(library[-1].filename, os.path.dirname(package))
        where += f", in {library[-1].name} ({relative}:{library[-1].lineno})"
    return (f"capture: the step did something a CUDA graph cannot record{where}: "
            f"{type(error).__name__}: {error}. A captured step may not read device values "
            "on the host (.item(), .numpy(), printing a tensor, data-dependent shapes) and "
            "must keep its hyperparameters fixed")
