"""GPU benchmarks (run on a machine with CuPy and an NVIDIA GPU).

1. The MLP training step 784-512-512-10 (ReLU, cross-entropy, Adam) at batch
   128 and 4096: ours on CuPy against the same network written by hand in
   CuPy (``mlp_step.HandMLP`` with ``xp=cupy``). PyTorch's CUDA eager time for
   the same step comes from ``benchmarks/external/torch_mlp.py``, a separate
   script (PyTorch is never imported by the package), run in the same job.
2. The Adam step over 10 and 100 million float32 parameters as a fraction of
   the bandwidth a large device-to-device copy reaches in the same run (Adam
   must move 28 bytes per parameter).
3. Per-op launch overhead: a chain of tiny elementwise ops, forward + backward.
4. A training step replayed as a CUDA graph (``tg.cuda.capture``) against eager.

Every time is a median over repeats with the device synchronised (4: the mean of
200 steps between two synchronisations, as a training loop runs them).
"""

from __future__ import annotations

import json
import time

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import backend, nn, optim

from .common import measure
from .mlp_step import HandMLP


def _sync():
    backend.get_xp("cuda").cuda.Device().synchronize()


def _timed(function, repeats=20, warmup=3, number=1):
    def run():
        function()
        _sync()
    return measure(run, repeats=repeats, warmup=warmup, number=number)[0]


def mlp(batch: int, repeats: int = 20) -> dict:
    xp = backend.get_xp("cuda")
    sizes = (784, 512, 512, 10)
    rng = np.random.default_rng(0)
    x_host = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y_host = rng.integers(0, 10, batch)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10)).to("cuda")
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = tg.tensor(x_host, device="cuda"), tg.tensor(y_host, device="cuda")

    def ours():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    hand = HandMLP(sizes, batch, "adam", xp=xp)
    x_dev, y_dev = xp.asarray(x_host), xp.asarray(y_host)
    t_ours = _timed(ours, repeats)
    t_hand = _timed(lambda: hand.step(x_dev, y_dev), repeats)
    return {"batch": batch, "ours_ms": t_ours * 1e3, "hand_cupy_ms": t_hand * 1e3,
            "ratio_to_hand": t_ours / t_hand}


def captured_step(batch: int, steps: int = 200) -> dict:
    """A training step as one CUDA graph (``tg.cuda.capture``) against the same step
    eager: the elementwise model of tests/test_cuda_capture.py (logits = x·w + b,
    tanh, cross-entropy, SGD with momentum), since CuPy refuses cuBLAS during a
    capture and so no step with a matrix product can be recorded. A replay includes
    copying the batch in and the host-side check of its class indices."""
    xp = backend.get_xp("cuda")
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((batch, 5)).astype(np.float32), device="cuda")
    y = tg.tensor(rng.integers(0, 5, batch), device="cuda")
    tg.manual_seed(0)
    w, b = tg.randn(5, device="cuda", requires_grad=True), tg.randn(5, device="cuda",
                                                                      requires_grad=True)
    optimizer = optim.SGD([w, b], lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn((x * w + b).tanh(), y)
        loss.backward()
        optimizer.step()
        return loss

    def per_step(function):
        for _ in range(10):
            function()
        xp.cuda.Device().synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            function()
        xp.cuda.Device().synchronize()
        return (time.perf_counter() - start) / steps
    eager = per_step(lambda: step(x, y))
    replay = tg.cuda.capture(step, x, y)
    captured = per_step(lambda: replay(x, y))
    return {"batch": batch, "eager_us": eager * 1e6, "captured_us": captured * 1e6,
            "speedup": eager / captured}


def copy_bandwidth(count: int) -> float:
    xp = backend.get_xp("cuda")
    source = xp.ones(count, dtype=xp.float32)
    target = xp.empty_like(source)
    seconds = _timed(lambda: xp.copyto(target, source), repeats=20)
    return 2 * source.nbytes / seconds


def adam(count: int, fused: bool | None = None) -> dict:
    """One Adam step over ``count`` parameters: readable update (fused=False) or the kernel."""
    xp = backend.get_xp("cuda")
    p = tg.tensor(xp.zeros(count, dtype=xp.float32), requires_grad=True)
    p.grad = tg.randn(count, device="cuda")
    optimizer = optim.Adam([p], lr=1e-3, fused=fused)
    seconds = _timed(optimizer.step, repeats=20)
    bandwidth = copy_bandwidth(count)
    achieved = 28 * count / seconds
    return {"params": count, "fused": fused, "step_ms": seconds * 1e3,
            "copy_GBps": bandwidth / 1e9, "adam_GBps": achieved / 1e9,
            "fraction_of_copy": achieved / bandwidth}


def many_small_adam(fused: bool) -> dict:
    """Adam over 100 tensors of 100k: launch-bound, where one kernel per tensor pays off."""
    params = []
    for _ in range(100):
        p = tg.zeros(100_000, device="cuda", requires_grad=True)
        p.grad = tg.randn(100_000, device="cuda")
        params.append(p)
    optimizer = optim.Adam(params, lr=1e-3, fused=fused)
    return {"fused": fused, "step_ms": _timed(optimizer.step, repeats=10) * 1e3}


def op_overhead(chain: int = 200) -> dict:
    xp = backend.get_xp("cuda")
    x = tg.rand(8, device="cuda", requires_grad=True)

    def ours():
        y = x
        for _ in range(chain // 4):
            y = ((y * 0.999 + 0.001).tanh()) - 0.001
        y.sum().backward()
        x.grad = None
    raw = xp.random.rand(8).astype(xp.float32)

    def reference():
        y = raw
        for _ in range(chain // 4):
            y = xp.tanh(y * 0.999 + 0.001) - 0.001
        return y
    t_ours = _timed(ours, repeats=10) / chain
    t_ref = _timed(reference, repeats=10) / chain
    return {"ours_us_per_op": t_ours * 1e6, "cupy_fwd_us_per_op": t_ref * 1e6,
            "ratio": t_ours / t_ref}


def main(quick: bool = False) -> dict:
    if not tg.cuda.is_available():
        print("GPU benchmarks need CuPy and an NVIDIA GPU: none found, nothing measured")
        return {}
    xp = backend.get_xp("cuda")
    name = xp.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    results = {"gpu": name, "mlp": [mlp(128), mlp(4096)],
               "captured_step": [captured_step(128), captured_step(4096)],
               "adam": [adam(10_000_000, fused=False), adam(100_000_000, fused=False)],
               "op_overhead": op_overhead()}
    results["adam_fused"] = [adam(10_000_000, fused=True), adam(100_000_000, fused=True)]
    results["adam_100_tensors_of_100k"] = [many_small_adam(fused) for fused in (False, True)]
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
