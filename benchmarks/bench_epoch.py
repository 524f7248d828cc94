"""Time one training epoch of 125 samples at 128×128 for each architecture.

Target (issue 3): report seconds per epoch on CPU (and CUDA when present) and the achieved
FLOP/s against this machine's measured matmul peak. Target (issue 10): an epoch through the
shared loop (Dataset → DataLoader → device per batch, plus a validation pass over one
batch) costs at most 10 % more than the bare steps on a device tensor
(``loop_epoch_seconds`` against ``epoch_seconds``). Prints one JSON object per line.

    python benchmarks/bench_epoch.py [--size 128] [--samples 125] [--models segnet_lite segnet_pool unet vgg16_scratch]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from gracefuse.config import TrainConfig
from gracefuse.datasets import ArrayDataset
from gracefuse.models import build_model, count_parameters
from gracefuse.training import MismatchLoss, choose_device, fit
from gracefuse.training.losses import mismatch_loss


def matmul_peak(device: torch.device, n: int = 2048, reps: int = 10) -> float:
    """Measured FLOP/s of a square float32 matmul (the machine's practical peak)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t)


def bench(name: str, device: torch.device, size: int, samples: int, batch: int = 5) -> dict:
    torch.manual_seed(0)
    model = build_model(name, n_predictors=3, months=3, size=size).to(device)
    x = torch.randn(samples, 9, size, size, device=device)
    y = torch.randn(samples, size, size, device=device)
    cell = torch.zeros(size, size, device=device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def step(i: int) -> None:
        opt.zero_grad(set_to_none=True)
        loss = mismatch_loss(model({"x": x[i : i + batch]})["y_hat"], y[i : i + batch], cell)
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        step(0)
    flops_per_batch = counter.get_total_flops()
    step(0)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(0, samples, batch):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    n_batches = -(-samples // batch)
    # the same epoch through the shared loop: Dataset → DataLoader → device, per batch
    data = ArrayDataset(x=x.cpu().numpy(), y=y.cpu().numpy())
    cfg = TrainConfig(epochs=1, batch_size=batch, device=device.type, mc_samples=0)
    res = fit(model, data, torch.arange(samples).numpy(), torch.arange(batch).numpy(),
              MismatchLoss(cell), cfg, progress=False)  # fmt: skip
    return {
        "model": name,
        "device": str(device),
        "size": size,
        "samples": samples,
        "parameters": count_parameters(model),
        "epoch_seconds": round(seconds, 3),
        "loop_epoch_seconds": round(res.history[0]["seconds"], 3),
        "flop_per_epoch": flops_per_batch * n_batches,
        "achieved_flops": flops_per_batch * n_batches / seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--samples", type=int, default=125)
    ap.add_argument(
        "--models", nargs="+", default=["segnet_lite", "segnet_pool", "unet", "vgg16_scratch"]
    )
    args = ap.parse_args()
    devices = [torch.device("cpu")]
    if choose_device("auto").type == "cuda":
        devices.append(torch.device("cuda"))
    for dev in devices:
        peak = matmul_peak(dev)
        for name in args.models:
            res = bench(name, dev, args.size, args.samples)
            res["matmul_peak_flops"] = peak
            res["fraction_of_peak"] = round(res["achieved_flops"] / peak, 3)
            print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
