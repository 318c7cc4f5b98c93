"""How fast is the channel shift? Against the reference, convolutions and the memory-copy floor.

    python benchmarks/bench_shift.py [--quick]

A shift does no arithmetic: it reads every element once and writes it once, so its floor is a
memory copy. Each case is timed with torch.utils.benchmark (fixed thread count, warm-up, median
and interquartile range) after its output has been checked. On large tensors allocating the
output costs more than the copy itself (first-touch page faults), so the "into out" rows are the
kernel's true cost and the "allocating" rows are compared with ``clone()``.
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import benchmark
from tqdm.auto import tqdm

from cnnlab.ops import (
    build_extension,
    one_hot_depthwise_weight,
    shift,
    shift_adjoint,
    shift_reference,
)

# (N, C, H, W) in float32. Small (200 KB) fits in L2; large (34 MB in, 34 MB out) does not fit
# the 32 MB L3 of the course machine, and on a GPU (268 MB) is several times its L2.
CPU_SIZES = {"small": (1, 64, 28, 28), "large": (32, 64, 64, 64)}
GPU_SIZES = {"small": (1, 64, 28, 28), "large": (64, 256, 64, 64)}

INTO_OUT, ALLOCATING, BACKWARD = "shift, into out", "shift, allocating", "shift backward, into out"
REFERENCE, ONE_HOT = "reference (slicing)", "one-hot depthwise conv"
DEPTHWISE = "3x3 depthwise conv"
COPY, CLONE = "copy_ (floor)", "clone()"


@dataclass(frozen=True)
class Row:
    """One timed case. Ratios and bandwidth are relative to the rows of the same group."""

    device: str
    size: str
    shape: tuple
    threads: int | None
    case: str
    median_s: float
    iqr_s: float
    nbytes: int

    @property
    def group(self):
        return self.device, self.size, self.threads

    @property
    def gb_per_s(self):
        return bandwidth(self.nbytes, self.median_s)


def bandwidth(nbytes, seconds):
    """GB/s moved by a pass that reads each of ``nbytes`` once and writes it once."""
    return 2 * nbytes / seconds / 1e9


def memory_figures(seconds, nbytes, copy_seconds):
    """A row's GB/s and its time as a multiple of copy_'s (notebook 08 derives both)."""
    return bandwidth(nbytes, seconds), seconds / copy_seconds


def _cases(x):
    """{case: (function to time, check of its output)}; the checks run once, before timing."""
    channels = x.shape[1]
    out = torch.empty_like(x)
    weight = one_hot_depthwise_weight(channels, dtype=x.dtype).to(x.device)
    depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
    depthwise = depthwise.to(x.device)
    expected = shift_reference(x)
    probe = x.detach().requires_grad_()
    (adjoint,) = torch.autograd.grad(shift_reference(probe), probe, grad_outputs=x)
    return {
        INTO_OUT: (lambda: shift(x, out=out), lambda y: torch.equal(y, expected)),
        ALLOCATING: (lambda: shift(x), lambda y: torch.equal(y, expected)),
        BACKWARD: (lambda: shift_adjoint(x, out=out), lambda y: torch.equal(y, adjoint)),
        REFERENCE: (lambda: shift_reference(x), lambda y: torch.equal(y, expected)),
        # GPUs may run float32 convolutions in TF32, which keeps 10 mantissa bits: not bit-exact.
        ONE_HOT: (lambda: F.conv2d(x, weight, padding=1, groups=channels),
                  lambda y: torch.allclose(y, expected, rtol=1e-3, atol=0)),
        DEPTHWISE: (lambda: depthwise(x), lambda y: y.shape == x.shape),
        COPY: (lambda: out.copy_(x), lambda y: torch.equal(y, x)),
        CLONE: (lambda: x.clone(), lambda y: torch.equal(y, x)),
    }


def benchmark_rows(quick=False, devices=None, cpu_sizes=None):
    """Time every case on each device, size and thread count; returns a list of Row.

    The cases of one group are timed in turn, in many short rounds, and each keeps its round with
    the lowest median: on a shared machine every case then gets some quiet moments, and other
    people's bursts inflate no figure. `quick` runs fewer rounds; `cpu_sizes` ({name: shape})
    replaces CPU_SIZES, e.g. with one tensor for a short demonstration.
    """
    devices = devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rounds, min_run_time = (3, 0.05) if quick else (12, 0.05)
    plan = []
    for device in devices:
        build_extension(device)  # compile now (raises if impossible): never time the fallback
        sizes = GPU_SIZES if device == "cuda" else (cpu_sizes or CPU_SIZES)
        thread_counts = [None] if device == "cuda" else sorted({1, min(2, os.cpu_count() or 1)})
        plan += [(device, size, shape, threads) for size, shape in sizes.items()
                 for threads in thread_counts]
    rows = []
    previous_threads = torch.get_num_threads()
    try:
        for device, size, shape, threads in tqdm(plan, desc="shift benchmark"):
            threads_now = threads or previous_threads
            torch.set_num_threads(threads_now)
            x = torch.randn(shape, device=device)
            cases = _cases(x)
            timers = {case: benchmark.Timer("function()", globals={"function": function},
                                            num_threads=threads_now)
                      for case, (function, _check) in cases.items()}
            best = {}
            with torch.no_grad():
                for case, (function, check) in cases.items():
                    if not check(function()):
                        raise AssertionError(f"{case} on {device} gave a wrong result")
                    timers[case].timeit(3)  # warm-up: caches, allocator, lazy initialisation
                for _, (case, timer) in itertools.product(range(rounds), timers.items()):
                    m = timer.blocked_autorange(min_run_time=min_run_time)
                    if case not in best or m.median < best[case].median:
                        best[case] = m
            rows += [Row(device, size, shape, threads, case, m.median, m.iqr,
                         x.numel() * x.element_size()) for case, m in best.items()]
    finally:
        torch.set_num_threads(previous_threads)
    return rows


def _time(rows, group, case):
    return next(r.median_s for r in rows if r.group == group and r.case == case)


def format_table(rows):
    """The rows as a fixed-width text table (times in microseconds)."""
    header = (f"{'device':6} {'tensor':24} {'thr':>3} {'case':26} {'median us':>11} "
              f"{'IQR us':>9} {'x copy_':>8} {'x clone':>8} {'GB/s':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        copy, clone = _time(rows, r.group, COPY), _time(rows, r.group, CLONE)
        tensor = f"{r.size} {'x'.join(map(str, r.shape))}"
        lines.append(f"{r.device:6} {tensor:24} {r.threads or '-':>3} {r.case:26} "
                     f"{r.median_s * 1e6:11.1f} {r.iqr_s * 1e6:9.1f} {r.median_s / copy:8.2f} "
                     f"{r.median_s / clone:8.2f} {r.gb_per_s:7.1f}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One of the issue's performance targets, as measured."""

    name: str
    value: float
    limit: float
    at_most: bool  # the value must be <= limit (else >= limit)

    @property
    def passed(self):
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def __str__(self):
        relation = "<=" if self.at_most else ">="
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.name}: {self.value:.2f} (target {relation} {self.limit})"


def check_targets(rows):
    """The issue's targets, all on large tensors, as a list of Target."""
    targets = []
    large = sorted({r.group for r in rows if r.size == "large"}, key=str)
    for group in large:
        device, _, threads = group
        where = device + (f" {threads} thr" if threads else "")
        t = {case: _time(rows, group, case)
             for case in (INTO_OUT, ALLOCATING, BACKWARD, ONE_HOT, COPY, CLONE)}
        if device == "cuda":
            targets += [
                Target(f"{where}: forward into out / copy_", t[INTO_OUT] / t[COPY], 1.15, True),
                Target(f"{where}: backward into out / copy_", t[BACKWARD] / t[COPY], 1.15, True),
                Target(f"{where}: one-hot conv / shift into out", t[ONE_HOT] / t[INTO_OUT], 5,
                       False),
            ]
        else:
            targets += [
                Target(f"{where}: shift into out / copy_", t[INTO_OUT] / t[COPY], 1.2, True),
                Target(f"{where}: shift allocating / clone()", t[ALLOCATING] / t[CLONE], 1.3, True),
                Target(f"{where}: one-hot conv / shift into out", t[ONE_HOT] / t[INTO_OUT], 10,
                       False),
                Target(f"{where}: one-hot conv / shift allocating", t[ONE_HOT] / t[ALLOCATING],
                       2.5, False),
            ]
    cpu = {group[2]: group for group in large if group[0] == "cpu"}  # by thread count
    if 1 in cpu and 2 in cpu:
        kernel_speedup = _time(rows, cpu[1], INTO_OUT) / _time(rows, cpu[2], INTO_OUT)
        copy_speedup = _time(rows, cpu[1], COPY) / _time(rows, cpu[2], COPY)
        targets.append(Target("cpu: 1->2 thread speed-up, shift / copy_",
                              kernel_speedup / copy_speedup, 0.8, False))
    return targets


def contention_note(rows):
    """A caution when copy_ itself barely sped up from 1 to 2 threads (busy cores), else None."""
    copy_times = {r.threads: r.median_s for r in rows
                  if r.device == "cpu" and r.size == "large" and r.case == COPY}
    if 1 in copy_times and 2 in copy_times and copy_times[1] / copy_times[2] < 1.3:
        return (f"note: copy_ itself sped up only {copy_times[1] / copy_times[2]:.2f}x on 2 threads, "
                "so other programs were probably competing for the cores: read the 2-thread rows "
                "with care, or rerun when the machine is quiet.")
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter timing rounds")
    args = parser.parse_args(argv)
    rows = benchmark_rows(quick=args.quick)
    print(format_table(rows))
    print()
    print("\n".join(str(target) for target in check_targets(rows)))
    note = contention_note(rows)
    if note:
        print(note)


if __name__ == "__main__":
    main()
