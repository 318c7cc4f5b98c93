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

from cnnlab import models
from cnnlab.models.resnet import dissertation_resnet
from cnnlab.ops import (
    Shift,
    build_extension,
    displacements,
    one_hot_depthwise_weight,
    shift,
    shift_adjoint,
    shift_reference,
)
from cnnlab.published import SEED002_TABLES

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


# --- the shapes of the course's CIFAR networks --------------------------------------------------

BATCHES = (1, 128)  # one image (inference), and the full profile's training batch
RESNET20_STAGES = [(16, 32, 32), (32, 16, 16), (64, 8, 8)]  # (C, H, W) of its three stages
PER_SHAPE_LIMIT = 1.1  # the kernel's time into out over copy_'s, at 1 thread, at every shape


def cifar_shift_shapes():
    """{(C, H, W): [network labels]} of the input of every shift layer in the course's CIFAR
    networks (each -Shift ResNet of seed 002's tables, and SqueezeNet-Shift), traced by running
    each network once on one 32x32 image."""
    labels = sorted({row.label for rows in SEED002_TABLES.values() for row in rows
                     if "-Shift" in row.label and row.label.startswith("ResNet")})
    networks = {label: dissertation_resnet(label) for label in labels}
    networks["SqueezeNet-Shift"] = models.create("squeezenet1_0_cifar", variant="shift")
    shapes = {}
    for label, network in networks.items():
        for shape in dict.fromkeys(_shift_inputs(network)):
            shapes.setdefault(shape, []).append(label)
    return dict(sorted(shapes.items(), key=lambda item: (-item[0][1], item[0][0])))


def _shift_inputs(network):
    """(C, H, W) of each Shift layer's input, in the order a 32x32 image meets them."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape[1:])))
             for m in network.modules() if isinstance(m, Shift)]
    with torch.no_grad():
        network.eval()(torch.zeros(1, 3, 32, 32))
    for hook in hooks:
        hook.remove()
    return seen


@dataclass(frozen=True)
class ShapeRow:
    """``shift(x, out=out)`` against copy_ on one shape, timed in the same rounds, and the
    compiled function called directly (what the Python wrapper adds is the difference)."""

    shape: tuple
    networks: tuple
    copy: benchmark.Measurement
    kernel: benchmark.Measurement
    call_alone: benchmark.Measurement

    @property
    def ratio(self):
        return self.kernel.median / self.copy.median

    @property
    def call_alone_ratio(self):
        return self.call_alone.median / self.copy.median


def _best_medians(functions, threads, rounds, min_run_time):
    """{name: the Measurement with the lowest median over `rounds` interleaved rounds}."""
    timers = {name: benchmark.Timer("function()", globals={"function": function},
                                    num_threads=threads) for name, function in functions.items()}
    for timer in timers.values():
        timer.timeit(3)  # warm-up
    best = {}
    for _, (name, timer) in itertools.product(range(rounds), timers.items()):
        m = timer.blocked_autorange(min_run_time=min_run_time)
        if name not in best or m.median < best[name].median:
            best[name] = m
    return best


def shape_rows(shapes=None, batches=BATCHES, quick=False):
    """One ShapeRow per (batch, shape) at 1 thread; `shapes` defaults to cifar_shift_shapes()."""
    build_extension("cpu")
    shapes = cifar_shift_shapes() if shapes is None else shapes
    rounds, min_run_time = (3, 0.02) if quick else (10, 0.02)
    rows = []
    previous_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        plan = [(batch, shape) for batch in batches for shape in shapes]
        for batch, shape in tqdm(plan, desc="shift per shape"):
            best = _time_into_out(torch.randn(batch, *shape), rounds, min_run_time)
            rows.append(ShapeRow((batch, *shape), tuple(shapes[shape]), best["copy"],
                                 best["kernel"], best["call alone"]))
    finally:
        torch.set_num_threads(previous_threads)
    return rows


def _time_into_out(x, rounds, min_run_time):
    out, alone = torch.empty_like(x), torch.empty_like(x)
    kernel = build_extension("cpu")
    table = torch.tensor(displacements(x.shape[1]), dtype=torch.int64).reshape(-1, 2)
    expected = shift_reference(x)
    kernel.shift_out(x, table, alone)
    if not (torch.equal(shift(x, out=out), expected) and torch.equal(alone, expected)):
        raise AssertionError(f"the shift of {tuple(x.shape)} gave a wrong result")
    return _best_medians({"copy": lambda: out.copy_(x), "kernel": lambda: shift(x, out=out),
                          "call alone": lambda: kernel.shift_out(x, table, alone)},
                         1, rounds, min_run_time)


def _networks_label(labels, width=34):
    text = ", ".join(labels)
    return text if len(text) <= width else text[: width - 3] + "..."


def format_shape_table(rows):
    """Per-shape rows (median, IQR in us): copy_, ``shift(x, out=out)`` and the compiled
    ``shift_out`` called alone, each over copy_, with the verdict against PER_SHAPE_LIMIT."""
    def verdict(ratio):
        return "PASS" if ratio <= PER_SHAPE_LIMIT else "FAIL"

    header = (f"{'tensor':14} {'copy_ us':>9} {'IQR':>6} {'shift us':>9} {'IQR':>6} "
              f"{'x copy_':>8} {'alone us':>9} {'IQR':>6} {'x copy_':>8}  networks")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{'x'.join(map(str, r.shape)):14} {r.copy.median * 1e6:9.1f} "
                     f"{r.copy.iqr * 1e6:6.1f} {r.kernel.median * 1e6:9.1f} "
                     f"{r.kernel.iqr * 1e6:6.1f} {r.ratio:4.2f} {verdict(r.ratio)} "
                     f"{r.call_alone.median * 1e6:9.1f} {r.call_alone.iqr * 1e6:6.1f} "
                     f"{r.call_alone_ratio:4.2f} {verdict(r.call_alone_ratio)}  "
                     f"{_networks_label(r.networks)}")
    return "\n".join(lines)


def shape_targets(rows):
    """The worst shape of each batch size, for shift(x, out=out) and for the call alone."""
    targets = []
    for batch in sorted({r.shape[0] for r in rows}):
        in_batch = [r for r in rows if r.shape[0] == batch]
        for name, ratio in (("shift(x, out=out)", lambda r: r.ratio),
                            ("shift_out called alone", lambda r: r.call_alone_ratio)):
            worst = max(in_batch, key=ratio)
            targets.append(Target(f"cpu 1 thr, batch {batch}: {name} / copy_, worst shape "
                                  f"{'x'.join(map(str, worst.shape))}", ratio(worst),
                                  PER_SHAPE_LIMIT, True))
    return targets


def compiled_rows(shapes, quick=False):
    """What torch.compile changes at batch 1, where fixed per-call costs weigh most.

    Per (C, H, W): copy_, the eager kernel into out, and torch.compile of the slicing reference
    (Inductor fuses it into one generated loop; the compiled kernel is opaque to it), then the
    shift module's shift + 1x1 conv eagerly and compiled. Times in seconds, {shape: {case: s}}.
    """
    build_extension("cpu")
    rounds, min_run_time = (3, 0.02) if quick else (10, 0.02)
    results = {}
    previous_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        for shape in tqdm(shapes, desc="torch.compile"):
            with torch.no_grad():
                best = _time_compiled(torch.randn(1, *shape), rounds, min_run_time)
            results[shape] = {case: m.median for case, m in best.items()}
    finally:
        torch.set_num_threads(previous_threads)
    return results


def _time_compiled(x, rounds, min_run_time):
    out = torch.empty_like(x)
    conv = nn.Conv2d(x.shape[1], x.shape[1], 1, bias=False).eval()
    compiled_shift = torch.compile(shift_reference, dynamic=False)
    compiled_module = torch.compile(lambda t: conv(shift_reference(t)), dynamic=False)
    expected = shift_reference(x)
    if not (torch.equal(compiled_shift(x), expected)
            and torch.allclose(compiled_module(x), conv(expected), atol=1e-5)):
        raise AssertionError(f"torch.compile changed the shift of {tuple(x.shape)}")
    return _best_medians({
        "copy_": lambda: out.copy_(x),
        "kernel, into out": lambda: shift(x, out=out),
        "compiled reference": lambda: compiled_shift(x),
        "kernel + 1x1, eager": lambda: conv(shift(x)),
        "reference + 1x1, compiled": lambda: compiled_module(x),
    }, 1, rounds, min_run_time)


def format_compiled_table(results):
    cases = list(next(iter(results.values())))
    header = f"{'tensor':12}" + "".join(f" {case + ' us':>28}" for case in cases)
    lines = [header, "-" * len(header)]
    for shape, times in results.items():
        copy = times["copy_"]
        lines.append(f"{'1x' + 'x'.join(map(str, shape)):12}" + "".join(
            f" {times[case] * 1e6:17.1f} ({times[case] / copy:4.2f}x)" for case in cases))
    return "\n".join(lines) + "\n(in brackets: time over copy_'s on the same tensor)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter timing rounds")
    parser.add_argument("--shapes-only", action="store_true",
                        help="only the per-shape rows (and --compile), not the size sweep")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile at batch 1 (compiles take minutes)")
    args = parser.parse_args(argv)
    if not args.shapes_only:
        rows = benchmark_rows(quick=args.quick)
        print(format_table(rows))
        print()
        print("\n".join(str(target) for target in check_targets(rows)))
        note = contention_note(rows)
        if note:
            print(note)
        print()
    shapes = cifar_shift_shapes()
    print(f"The shift's inputs in the course's CIFAR networks, at 1 thread (batches {BATCHES}):")
    rows = shape_rows(shapes, quick=args.quick)
    print(format_shape_table(rows))
    print("\n".join(str(target) for target in shape_targets(rows)))
    if args.compile:
        print()
        print(format_compiled_table(compiled_rows(RESNET20_STAGES, quick=args.quick)))


if __name__ == "__main__":
    main()
