"""Seed 002's nets side by side: parameters, MACs and single-image latency of every variant.

    python benchmarks/bench_variants.py [--quick]

The twelve ResNets of tables 3-4 (ResNet20 / 56 / 110, each as the base net and its -DSC, -Shift
and -Shuffle forms) and the four SqueezeNets of tables 1-2, all for CIFAR-10, each timed on one
32x32 image in eval mode with torch.utils.benchmark (warm-up, then ``blocked_autorange``: many
runs, median and interquartile range) on the CPU at 1 and 2 threads, and on the GPU when there is
one. Ratios are to the base net of the same family, measured in the same run.

The dissertation timed its CPU runs with the shift op on the GPU (no CPU shift existed); here
everything runs on the CPU, shift included (:mod:`cnnlab.ops`). Two targets are checked: at 1
thread ResNet20-Shift takes <= 0.7x ResNet20's time, and its shift layers <= 10% of its forward
time (each shift layer timed alone on the input it sees in the net).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark

from cnnlab import models
from cnnlab.models.resnet import dissertation_resnet
from cnnlab.ops import Shift
from cnnlab.summary import cost_of

IN_SHAPE = (3, 32, 32)
VARIANTS = ("", "-DSC", "-Shift", "-Shuffle")


def nets() -> dict[str, tuple[str, nn.Module]]:
    """label -> (base label, model): the dissertation's sixteen CIFAR-10 nets."""
    out = {}
    for depth in (20, 56, 110):
        base = f"ResNet{depth}"
        out.update({base + v: (base, dissertation_resnet(base + v)) for v in VARIANTS})
    for v in VARIANTS:
        variant = v.lstrip("-").lower() or "conv"
        model = models.create("squeezenet1_0_cifar", variant=variant,
                              groups=2 if variant == "shuffle" else 1)
        out["SqueezeNet" + v] = ("SqueezeNet", model)
    return out


@dataclass(frozen=True)
class Timing:
    median_ms: float
    iqr_ms: float


def timed(function, *, threads: int, min_run_time: float) -> Timing:
    """``function()`` timed after a warm-up: median and IQR of ``blocked_autorange``."""
    timer = benchmark.Timer("function()", globals={"function": function}, num_threads=threads)
    timer.timeit(5)  # warm-up: caches, allocator, lazy initialisation, the kernel build
    m = timer.blocked_autorange(min_run_time=min_run_time)
    return Timing(m.median * 1e3, m.iqr * 1e3)


def shift_share(model: nn.Module, x: torch.Tensor, *, threads: int, min_run_time: float) -> float:
    """The shift layers' part of ``model``'s forward time: each timed alone on its input."""
    inputs = []
    hooks = [m.register_forward_hook(lambda m, args, out: inputs.append((m, args[0])))
             for m in model.modules() if isinstance(m, Shift)]
    model(x)
    for hook in hooks:
        hook.remove()
    whole = timed(lambda: model(x), threads=threads, min_run_time=min_run_time).median_ms
    parts = sum(timed(lambda m=m, y=y: m(y), threads=threads,
                      min_run_time=min_run_time / len(inputs)).median_ms for m, y in inputs)
    return parts / whole


def run(quick: bool = False) -> tuple[list[dict], float]:
    min_run_time = 0.1 if quick else 0.5
    devices = [("cpu", 1), ("cpu", 2)] + ([("cuda", None)] if torch.cuda.is_available() else [])
    x = torch.randn(1, *IN_SHAPE, generator=torch.Generator().manual_seed(0))
    rows, previous = [], torch.get_num_threads()
    try:
        with torch.inference_mode():
            for label, (base, model) in nets().items():
                model.eval()
                cost = cost_of(model, IN_SHAPE)
                row = {"net": label, "base": base, "params": cost.params, "macs": cost.macs}
                for device, threads in devices:
                    torch.set_num_threads(threads or previous)
                    net, y = model.to(device), x.to(device)
                    if device == "cuda":
                        def forward(net=net, y=y):
                            net(y)
                            torch.cuda.synchronize()
                    else:
                        def forward(net=net, y=y):
                            net(y)
                    key = device if threads is None else f"{device}{threads}"
                    row[key] = timed(forward, threads=threads or previous,
                                     min_run_time=min_run_time)
                model.to("cpu")
                rows.append(row)
            torch.set_num_threads(1)
            share = shift_share(dissertation_resnet("ResNet20-Shift").eval(), x, threads=1,
                                min_run_time=min_run_time)
    finally:
        torch.set_num_threads(previous)
    return rows, share


def format_table(rows: list[dict]) -> str:
    """Fixed-width text: counts, then per device median ms (IQR) and the ratio to the base."""
    keys = [k for k in ("cpu1", "cpu2", "cuda") if k in rows[0]]
    names = {"cpu1": "CPU 1 thr", "cpu2": "CPU 2 thr", "cuda": "GPU"}
    header = f"{'net':20} {'params':>10} {'x base':>7} {'MACs':>12} {'x base':>7}" + "".join(
        f" {names[k] + ' ms (IQR)':>22} {'x base':>7}" for k in keys)
    lines = [header, "-" * len(header)]
    by_label = {row["net"]: row for row in rows}
    for row in rows:
        base = by_label[row["base"]]
        line = (f"{row['net']:20} {row['params']:>10,} {row['params'] / base['params']:>7.2f} "
                f"{row['macs']:>12,} {row['macs'] / base['macs']:>7.2f}")
        for k in keys:
            t = row[k]
            line += (f" {f'{t.median_ms:.3f} ({t.iqr_ms:.3f})':>22} "
                     f"{t.median_ms / base[k].median_ms:>7.2f}")
        lines.append(line)
    return "\n".join(lines)


def targets(rows: list[dict], share: float) -> list[str]:
    by_label = {row["net"]: row for row in rows}
    ratio = by_label["ResNet20-Shift"]["cpu1"].median_ms / by_label["ResNet20"]["cpu1"].median_ms
    return [f"{'PASS' if value <= limit else 'FAIL'}  {name}: {value:.2f} (target <= {limit})"
            for name, value, limit in [
                ("ResNet20-Shift / ResNet20, CPU 1 thread", ratio, 0.7),
                ("ResNet20-Shift: shift layers / forward time, CPU 1 thread", share, 0.1)]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing rounds")
    args = parser.parse_args(argv)
    rows, share = run(quick=args.quick)
    print(format_table(rows))
    print()
    print("\n".join(targets(rows, share)))


if __name__ == "__main__":
    main()
