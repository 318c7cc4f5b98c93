"""Notebook 11's targets, measured in one run on the trained small_cnn (shapes data, this CPU).

    CNNLAB_PROFILE=smoke python benchmarks/bench_compress.py

- int8 checkpoint (static, calibrated) <= 0.3x the float32 checkpoint;
- int8 CPU latency below float32's at batch 1 and at batch 32 (static and dynamic int8 shown);
- top-1 drop <= 1 point after static int8 with calibration (on the test split);
- a 90%-pruned layer stored as CSR <= 0.25x its dense bytes (and the dense checkpoint unchanged).
Every figure is measured here; PASS/FAIL says whether the target holds in this run.
"""

from __future__ import annotations

import copy

import torch

from cnnlab import bench, compress

CALIBRATION_BATCHES = 8


def main() -> bool:
    torch.manual_seed(0)
    train_loader, test_loader = compress.subject_data()
    fp32 = compress.trained_subject(train_loader)
    calibration = [images for images, _ in list(train_loader)[:CALIBRATION_BATCHES]]
    nets = {"float32": fp32, "dynamic int8": compress.dynamic_int8(fp32),
            "static int8": compress.static_int8(fp32, calibration)}
    images = next(iter(test_loader))[0][:32]
    rows = {}
    for name, net in nets.items():
        rows[name] = {"bytes": bench.checkpoint_bytes(net), "top1": compress.accuracy(net, test_loader),
                      "b1": bench.batch_latency(net, images[:1]), "b32": bench.batch_latency(net, images)}
    print(f"{'model':<14}{'checkpoint':>12}{'x fp32':>8}{'top-1 %':>9}{'batch 1 ms':>12}"
          f"{'x fp32':>8}{'batch 32 ms':>13}{'x fp32':>8}")
    base = rows["float32"]
    for name, r in rows.items():
        print(f"{name:<14}{r['bytes']:>12,}{r['bytes'] / base['bytes']:>8.3f}{r['top1']:>9.1f}"
              f"{r['b1']:>12.3f}{r['b1'] / base['b1']:>8.2f}{r['b32']:>13.3f}{r['b32'] / base['b32']:>8.2f}")

    pruned = compress.prune_to(copy.deepcopy(fp32), 0.9)
    layer = pruned[7]  # the big linear layer: 90% of the net's weights
    compress.make_permanent(pruned)
    dense, sparse = layer.weight.numel() * layer.weight.element_size(), compress.sparse_bytes(layer.weight)
    layer_sparsity = float((layer.weight == 0).float().mean())
    print(f"\n90%-pruned net (global): layer 7 is {layer_sparsity:.1%} zeros; dense {dense:,} B, "
          f"CSR {sparse:,} B = {sparse / dense:.3f}x; whole dense checkpoint "
          f"{bench.checkpoint_bytes(pruned):,} B vs {base['bytes']:,} B unpruned; batch-32 latency "
          f"{bench.batch_latency(pruned, images):.3f} ms vs {base['b32']:.3f} ms")

    static = rows["static int8"]
    targets = {
        "int8 checkpoint <= 0.3x fp32": static["bytes"] <= 0.3 * base["bytes"],
        "int8 latency < fp32 at batch 1": static["b1"] < base["b1"],
        "int8 latency < fp32 at batch 32": static["b32"] < base["b32"],
        "static int8 top-1 drop <= 1 point": base["top1"] - static["top1"] <= 1.0,
        "CSR of a 90%-pruned layer <= 0.25x dense": sparse <= 0.25 * dense,
    }
    print(f"\nthreads: {torch.get_num_threads()}, quantized engine: {torch.backends.quantized.engine}")
    for name, ok in targets.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return all(targets.values())


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
