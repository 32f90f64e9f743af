"""``tg.cuda``: whether a GPU is there, its seed, and ``capture``: a training step
recorded once as a CUDA graph and replayed.

PyTorch's ``torch.cuda`` functions, on CuPy, with PyTorch's answers on a machine
without a GPU (no CuPy, or no GPU that it sees): ``is_available()`` is False,
``device_count()`` 0, ``is_initialized()`` False, ``memory_allocated()``,
``memory_reserved()`` and ``max_memory_allocated()`` 0; ``empty_cache()`` and the
seeding functions (``manual_seed``, ``manual_seed_all``, ``seed``, ``seed_all``) do
nothing, as PyTorch ('it is safe to call this function if CUDA is not available; it
is silently ignored'); ``with device(None)`` and ``with stream(None)`` change
nothing. The others (``current_device``, ``set_device``, ``device(n)``,
``get_device_name``, ``get_device_capability``, ``synchronize``, ``initial_seed``,
``get_rng_state``, ``reset_peak_memory_stats``, ``Stream``, ``Event``) raise a
RuntimeError naming themselves; ``get_rng_state_all()`` is ``[]`` and
``set_rng_state`` / ``set_rng_state_all`` do nothing, as PyTorch. On a GPU,
``manual_seed`` seeds CuPy's generator of the current GPU only (``tg.manual_seed``
seeds NumPy's and CuPy's); ``Stream`` and ``Event`` are CuPy's.

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

import contextlib
import os
import traceback
from typing import Callable

from tinygrad_opt import backend
from tinygrad_opt._checks import seed64

WARMUP_STEPS = 3  # eager steps before capture (optimizer state, memory, compiled kernels)

_active = None  # the Capture being recorded, if any (one at a time)


def is_available() -> bool:
    """True when CuPy imports and sees at least one GPU (as ``torch.cuda.is_available``)."""
    return backend.cuda_available()


def device_count() -> int:
    """The number of GPUs CuPy sees; 0 without CuPy or a GPU, as PyTorch."""
    if not is_available():
        return 0
    return int(backend.get_xp("cuda").cuda.runtime.getDeviceCount())


def is_initialized() -> bool:
    """Whether the CUDA runtime is up: False without a GPU, as PyTorch. (Asking
    ``is_available`` already starts CuPy's runtime, so on a GPU this is True.)"""
    return is_available()


def _no_gpu(function: str) -> RuntimeError:
    """The error of a function that needs a GPU, on a machine without one (PyTorch
    raises 'No CUDA GPUs are available' there too)."""
    return RuntimeError(f"tg.cuda.{function}: no CUDA GPU is available (it needs CuPy and "
                        "an NVIDIA GPU: pip install 'tinygrad_opt[gpu]')")


def _index(device, function: str, optional: bool = True) -> int:
    """The GPU number of ``device``: an int, ``'cuda'`` / ``'cuda:1'``, or None (the
    current GPU). Names ``function`` when the device is not a GPU or there is none."""
    if isinstance(device, bool) or not (device is None or isinstance(device, (int, str))
                                        or hasattr(type(device), "__index__")):
        raise ValueError(f"tg.cuda.{function}: device must be an int, 'cuda' or "
                         f"'cuda:N', got {device!r}")
    if isinstance(device, str):
        kind, _, number = device.partition(":")
        if kind != "cuda" or (number and not number.isdigit()):
            raise ValueError(f"tg.cuda.{function}: expected a cuda device, got '{device}'")
        device = int(number) if number else None
    if device is None and not optional:
        raise ValueError(f"tg.cuda.{function}: a device number is needed, got None")
    if not is_available():
        raise _no_gpu(function)
    cupy = backend.get_xp("cuda")
    index = cupy.cuda.runtime.getDevice() if device is None else int(device)
    if not 0 <= index < device_count():
        raise ValueError(f"tg.cuda.{function}: device {index} does not exist "
                         f"({device_count()} GPUs)")
    return index


def current_device() -> int:
    """The number of the GPU that work goes to; RuntimeError without a GPU."""
    return _index(None, "current_device")


def set_device(device) -> None:
    """Make ``device`` (an int or ``'cuda:N'``) the current GPU; a negative number does
    nothing, as PyTorch. RuntimeError without a GPU."""
    if isinstance(device, int) and not isinstance(device, bool) and device < 0:
        return
    index = _index(device, "set_device", optional=False)
    backend.get_xp("cuda").cuda.Device(index).use()


class device:
    """``with tg.cuda.device(1): ...``: the block's work goes to GPU 1, the previous
    current GPU comes back after it. ``None`` or a negative number: a block that
    changes nothing (also without a GPU, as PyTorch); else RuntimeError without a GPU."""

    def __init__(self, device):
        self.device, self.previous = device, None

    def __enter__(self):
        negative = isinstance(self.device, int) and not isinstance(self.device, bool) \
            and self.device < 0
        if self.device is not None and not negative:
            index = _index(self.device, "device")
            self.previous = current_device()
            set_device(index)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            set_device(self.previous)
        return False


def get_device_name(device=None) -> str:
    """The GPU's name (CUDA's ``cudaDeviceProp.name``); RuntimeError without a GPU."""
    index = _index(device, "get_device_name")
    name = backend.get_xp("cuda").cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None) -> tuple:
    """The GPU's compute capability ``(major, minor)``; RuntimeError without a GPU."""
    index = _index(device, "get_device_capability")
    properties = backend.get_xp("cuda").cuda.runtime.getDeviceProperties(index)
    return int(properties["major"]), int(properties["minor"])


def synchronize(device=None) -> None:
    """Wait until the GPU has finished all its work; RuntimeError without a GPU."""
    index = _index(device, "synchronize")
    backend.get_xp("cuda").cuda.Device(index).synchronize()


_seed = None  # (the seed, the host generator it was given beside): see initial_seed


def _check_seed(seed, function: str) -> int:
    """``seed`` as a 64-bit seed (``_checks.seed64``), the errors naming ``tg.cuda.function``."""
    return seed64(seed, f"tg.cuda.{function}")


def _seed_gpus(seed: int, devices) -> None:
    """Seed CuPy's generator of each GPU in ``devices`` (CuPy keeps one per GPU)."""
    global _seed
    cupy = backend.get_xp("cuda")
    for index in devices:
        with cupy.cuda.Device(index):
            cupy.random.seed(seed)
    _seed = (seed, backend.host_rng())


def manual_seed(seed: int) -> None:
    """Seed the current GPU's generator (CuPy's) only, not NumPy's (``tg.manual_seed``
    seeds everything). Without a GPU it does nothing, as PyTorch: 'it is safe to
    call this function if CUDA is not available; it is silently ignored'."""
    seed = _check_seed(seed, "manual_seed")
    if is_available():
        _seed_gpus(seed, [current_device()])


def manual_seed_all(seed: int) -> None:
    """Seed the generator of every GPU; without a GPU it does nothing."""
    seed = _check_seed(seed, "manual_seed_all")
    if is_available():
        _seed_gpus(seed, range(device_count()))


def seed() -> None:
    """Seed the current GPU's generator from OS entropy; without a GPU it does nothing."""
    if is_available():
        _seed_gpus(_fresh_seed(), [current_device()])


def seed_all() -> None:
    """Seed every GPU's generator from one seed drawn from OS entropy; without a GPU it
    does nothing."""
    if is_available():
        _seed_gpus(_fresh_seed(), range(device_count()))


def _fresh_seed() -> int:
    return int(backend.np.random.SeedSequence().entropy % 2**63)


def initial_seed() -> int | None:
    """The seed the GPU generator was last given: by the functions above or, if it
    came later, by ``tg.manual_seed`` (which seeds CuPy too and starts a new host
    generator: that is how it is told apart). RuntimeError without a GPU, as PyTorch."""
    if not is_available():
        raise _no_gpu("initial_seed")
    if _seed is not None and _seed[1] is backend.host_rng():
        return _seed[0]
    return backend.initial_seed()


def get_rng_state(device="cuda") -> dict:
    """The state of ``device``'s generator (CuPy's), for :func:`set_rng_state`.
    RuntimeError without a GPU, as PyTorch (which starts CUDA for it).

    CuPy's cuRAND generator cannot be read back, so the state is a seed: the GPU's
    generator starts over from a fresh seed, which is returned; ``set_rng_state``
    starts it over from that seed again, so the draws in between come again."""
    index = _index(device, "get_rng_state")
    cupy, fresh = backend.get_xp("cuda"), _fresh_seed()
    with cupy.cuda.Device(index):
        cupy.random.seed(fresh)
    return {"seed": fresh}


def set_rng_state(new_state: dict, device="cuda") -> None:
    """Put ``device``'s generator back where :func:`get_rng_state` found it. Without a
    GPU it does nothing, as PyTorch (which queues the call for a CUDA that never starts)."""
    if not isinstance(new_state, dict) or "seed" not in new_state:
        raise TypeError("tg.cuda.set_rng_state: new_state must be a state from "
                        f"tg.cuda.get_rng_state, got {new_state!r}")
    if is_available():
        index, cupy = _index(device, "set_rng_state"), backend.get_xp("cuda")
        with cupy.cuda.Device(index):
            cupy.random.seed(new_state["seed"])


def get_rng_state_all() -> list:
    """``[get_rng_state(i) for i in range(device_count())]``: ``[]`` without a GPU."""
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    """``set_rng_state(state, i)`` for the i-th state: nothing to do for ``[]``."""
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


def empty_cache() -> None:
    """Give the unused blocks of CuPy's memory pools back to the GPU; without a GPU it
    does nothing, as PyTorch."""
    if is_available():
        cupy = backend.get_xp("cuda")
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()


def memory_allocated(device=None) -> int:
    """Bytes held by arrays in CuPy's default memory pool (``MemoryPool.used_bytes``);
    0 without a GPU, as PyTorch (whose allocator is then not initialized)."""
    if not is_available():
        return 0
    with _on_device(device, "memory_allocated"):
        return int(backend.get_xp("cuda").get_default_memory_pool().used_bytes())


def memory_reserved(device=None) -> int:
    """Bytes the pool holds, in use or cached for reuse (``MemoryPool.total_bytes``);
    0 without a GPU."""
    if not is_available():
        return 0
    with _on_device(device, "memory_reserved"):
        return int(backend.get_xp("cuda").get_default_memory_pool().total_bytes())


def max_memory_allocated(device=None) -> int:
    """The peak of ``memory_allocated``: 0 without a GPU, as PyTorch. On a GPU it
    raises: CuPy's pool keeps no peak (PyTorch's caching allocator does)."""
    if not is_available():
        return 0
    raise NotImplementedError("tg.cuda.max_memory_allocated: CuPy's memory pool keeps no "
                              "peak; read tg.cuda.memory_allocated() where it matters")


def reset_peak_memory_stats(device=None) -> None:
    """Restart the peak statistics: RuntimeError without a GPU (as PyTorch, which asks
    for the current device); on a GPU the same NotImplementedError as
    ``max_memory_allocated``."""
    _index(device, "reset_peak_memory_stats")
    raise NotImplementedError("tg.cuda.reset_peak_memory_stats: CuPy's memory pool keeps "
                              "no peak to reset")


def Stream(device=None, priority: int = 0):
    """A new CUDA stream on ``device``: CuPy's ``cupy.cuda.Stream(non_blocking=True)``
    (enter it with ``with`` or ``tg.cuda.stream``). RuntimeError without a GPU."""
    with _on_device(device, "Stream"):
        options = {"priority": priority} if priority else {}  # (0: CUDA's default)
        return backend.get_xp("cuda").cuda.Stream(non_blocking=True, **options)


def Event(enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
    """A new CUDA event: CuPy's ``cupy.cuda.Event`` with PyTorch's defaults (no
    timing); time two events with ``cupy.cuda.get_elapsed_time(start, end)``.
    RuntimeError without a GPU."""
    if not is_available():
        raise _no_gpu("Event")
    return backend.get_xp("cuda").cuda.Event(block=blocking, disable_timing=not enable_timing,
                                             interprocess=interprocess)


@contextlib.contextmanager
def stream(s):
    """``with tg.cuda.stream(s):`` the block's GPU work goes to stream ``s``; ``None``
    is a block that changes nothing (also without a GPU, as PyTorch)."""
    if s is None:
        yield
        return
    with s:
        yield


def _on_device(device, function: str):
    """A context in which ``device`` is the current GPU; RuntimeError without a GPU."""
    index = _index(device, function)
    return backend.get_xp("cuda").cuda.Device(index)


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


class _Accelerator:
    """``tg.accelerator`` (PyTorch's ``torch.accelerator``): the one accelerator kind here
    is the CUDA GPU, so each function is its ``tg.cuda`` counterpart. As PyTorch's,
    ``current_accelerator()`` is ``device('cuda')`` when the GPU library (CuPy) is
    installed, its "compile-time" accelerator, else None; ``check_available=True`` also
    asks for a GPU that it sees."""

    @staticmethod
    def is_available() -> bool:
        """``cuda.is_available()``."""
        return is_available()

    @staticmethod
    def device_count() -> int:
        """``cuda.device_count()``: 0 without a GPU."""
        return device_count()

    @staticmethod
    def current_accelerator(check_available: bool = False):
        """``device('cuda')`` (index None, as PyTorch's) or None: see the class."""
        from tinygrad_opt.functions import device as _device
        if backend.cupy is None or (check_available and not is_available()):
            return None
        return _device("cuda")

    @staticmethod
    def current_device_index() -> int:
        """``cuda.current_device()``; RuntimeError without a GPU."""
        return current_device()

    @staticmethod
    def set_device_index(device) -> None:
        """``cuda.set_device(device)``."""
        set_device(device)

    @staticmethod
    def synchronize(device=None) -> None:
        """``cuda.synchronize(device)``."""
        synchronize(device)


accelerator = _Accelerator()


class _MPS:
    """``tg.backends.mps``: Apple's GPUs, which CuPy does not drive: never available."""

    @staticmethod
    def is_available() -> bool:
        """False: no MPS device here."""
        return False

    @staticmethod
    def is_built() -> bool:
        """False: not built with MPS."""
        return False


class _CuDNN:
    """``tg.backends.cudnn``: the library PyTorch's GPU convolutions call; ours are CuPy's
    own kernels, so it is never available. Its switches (``enabled``, ``benchmark``,
    ``deterministic``, PyTorch's defaults True, False, False) may be set, as scripts
    do, and change nothing here."""

    enabled, benchmark, deterministic = True, False, False

    @staticmethod
    def is_available() -> bool:
        """False: cuDNN is not used."""
        return False

    @staticmethod
    def version():
        """None, as PyTorch's without cuDNN."""
        return None


class _Backends:
    """``tg.backends``: PyTorch's ``torch.backends.mps`` and ``torch.backends.cudnn``, for
    scripts that pick their device with ``torch.backends.mps.is_available()``."""

    mps, cudnn = _MPS(), _CuDNN()


backends = _Backends()


_LEGACY_TYPES = {}  # torch.cuda.FloatTensor, ...: made on first use (see __getattr__)


def __getattr__(name: str):
    """``tg.cuda.FloatTensor``, ``tg.cuda.LongTensor``, ...: the GPU's legacy tensor types
    (tinygrad_opt.legacy_types): ``isinstance`` works anywhere, a call raises the
    RuntimeError above without a GPU. Made when first named: they build Tensors, a
    module that is imported after this one."""
    from tinygrad_opt import legacy_types
    if name not in legacy_types.__all__[:-1]:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _LEGACY_TYPES:
        _LEGACY_TYPES.update(legacy_types.legacy_types("cuda", __name__, unavailable=_no_gpu))
    return _LEGACY_TYPES[name]
