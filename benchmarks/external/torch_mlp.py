"""PyTorch CUDA eager timing of the MLP step that benchmarks/gpu.py times for us.

A comparison script only, run on the GPU machine where PyTorch is preinstalled;
it is not part of the package and nothing in tinygrad_opt imports PyTorch.
Prints JSON: milliseconds per Adam step at batch 128 and 4096.
"""

import json
import statistics
import time

import torch


def step_ms(batch: int, repeats: int = 20) -> float:
    torch.manual_seed(0)
    device = "cuda"
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # foreach (default) eager
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(batch, 784, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


if __name__ == "__main__":
    print(json.dumps({"torch": torch.__version__,
                      "mlp_ms": {str(b): step_ms(b) for b in (128, 4096)}}))
