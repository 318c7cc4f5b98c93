"""Seed 002's results tables 1-12, as printed: what the dissertation measured, to set beside ours.

Each row: the network's label, its test accuracy in percent (top-1 on CIFAR-10, top-5 on
CIFAR-100, as the seed reports them), its parameter count, and its single-image latency
(mean, spread) in ms on an NVIDIA GTX TITAN GPU and an Intel Core i7-7700K CPU. The CPU times of
tables 3-12 ran the shift and one convolution per block on the GPU (no CPU shift existed).
Table 5 prints 271,762 for ResNet20, a typo for 272,762 (table 3, the same net). Our counts for
the ResNet rows are pinned in ``tests/test_optimized.py``; the SqueezeNet gaps are explained in
:mod:`cnnlab.models.squeezenet`. ``ILSVRC_WINNERS``: the ImageNet challenge's winning errors
by year, with their sources.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CLASSES", "ILSVRC_WINNERS", "ILSVRCWinner", "SEED002_TABLE13", "SEED002_TABLES",
           "PublishedGANRow", "PublishedRow", "published"]


class PublishedRow(NamedTuple):
    label: str
    accuracy: float
    params: int
    gpu_ms: tuple[float, float]
    cpu_ms: tuple[float, float]


CLASSES = {table: 10 if table % 2 else 100 for table in range(1, 13)}  # odd: CIFAR-10

SEED002_TABLES: dict[int, list[PublishedRow]] = {
    table: [PublishedRow(*row) for row in rows] for table, rows in {
    1: [
        ("SqueezeNet", 90.11, 746_638, (2.21, 0.25), (6.61, 0.12)),
        ("SqueezeNet-DSC", 87.50, 248_670, (2.4, 0.21), (9.55, 0.15)),
        ("SqueezeNet-Shift", 87.97, 246_926, (2.66, 0.22), (5.36, 0.13)),
        ("SqueezeNet-Shuffle", 87.83, 114_574, (2.58, 0.31), (10.23, 0.11)),
    ],
    2: [
        ("SqueezeNet", 89.36, 792_988, (2.2, 0.17), (6.78, 0.13)),
        ("SqueezeNet-DSC", 88.51, 295_020, (2.34, 0.26), (9.69, 0.16)),
        ("SqueezeNet-Shift", 89.92, 293_276, (2.66, 0.23), (5.44, 0.15)),
        ("SqueezeNet-Shuffle", 90.23, 160_924, (2.68, 0.27), (10.27, 0.14)),
    ],
    3: [
        ("ResNet20", 86.47, 272_762, (1.71, 0.08), (2.94, 0.1)),
        ("ResNet20-DSC", 80.37, 40_810, (2.21, 0.07), (5.28, 0.06)),
        ("ResNet20-Shift", 80.81, 35_194, (1.92, 0.06), (2.07, 0.11)),
        ("ResNet20-Shuffle", 81.94, 24_682, (2.55, 0.07), (2.61, 0.09)),
        ("ResNet56", 88.79, 856_058, (4.45, 0.06), (8.01, 0.1)),
        ("ResNet56-DSC", 82.51, 120_106, (5.83, 0.14), (17.32, 0.2)),
        ("ResNet56-Shift", 84.05, 102_394, (4.95, 0.04), (5.19, 0.11)),
        ("ResNet56-Shuffle", 83.36, 67_786, (7.0, 0.08), (7.06, 0.12)),
        ("ResNet110", 88.99, 1_731_002, (7.32, 0.16), (16.05, 1.02)),
        ("ResNet110-DSC", 83.34, 239_050, (11.5, 0.41), (36.83, 1.22)),
        ("ResNet110-Shift", 85.02, 203_194, (9.56, 0.2), (9.9, 0.08)),
        ("ResNet110-Shuffle", 83.19, 132_442, (13.62, 0.2), (13.72, 0.16)),
    ],
    4: [
        ("ResNet20", 86.78, 278_612, (1.68, 0.04), (2.88, 0.08)),
        ("ResNet20-DSC", 81.08, 46_660, (2.18, 0.07), (5.29, 0.11)),
        ("ResNet20-Shift", 79.80, 41_044, (2.0, 0.07), (2.08, 0.08)),
        ("ResNet20-Shuffle", 81.48, 30_532, (2.58, 0.08), (2.58, 0.07)),
        ("ResNet56", 87.10, 861_908, (4.46, 0.12), (8.04, 0.09)),
        ("ResNet56-DSC", 83.20, 125_956, (5.84, 0.09), (17.36, 0.17)),
        ("ResNet56-Shift", 83.90, 108_244, (4.94, 0.1), (5.19, 0.08)),
        ("ResNet56-Shuffle", 85.85, 73_636, (6.89, 0.14), (7.0, 0.09)),
        ("ResNet110", 87.65, 1_736_852, (7.41, 0.12), (16.09, 0.21)),
        ("ResNet110-DSC", 83.70, 244_900, (11.53, 0.34), (36.65, 0.75)),
        ("ResNet110-Shift", 85.76, 209_044, (9.88, 0.22), (10.48, 0.28)),
        ("ResNet110-Shuffle", 85.79, 138_292, (13.77, 0.26), (13.9, 0.14)),
    ],
    5: [
        ("ResNet20", 86.47, 271_762, (1.71, 0.08), (2.94, 0.1)),
        ("ResNet20-DSC-0.36", 86.58, 270_684, (2.15, 0.05), (12.94, 0.21)),
        ("ResNet20-Shift-0.35", 87.55, 270_101, (1.96, 0.07), (3.37, 0.1)),
        ("ResNet20-Shuffle-0.27", 89.02, 262_960, (2.56, 0.07), (4.88, 0.04)),
        ("ResNet56", 88.79, 856_058, (4.45, 0.06), (8.01, 0.1)),
        ("ResNet56-DSC-0.35", 87.78, 849_176, (5.55, 0.1), (45.03, 1.24)),
        ("ResNet56-Shift-0.34", 88.72, 852_966, (5.0, 0.11), (8.55, 0.09)),
        ("ResNet56-Shuffle-0.25", 89.78, 864_522, (6.9, 0.13), (13.5, 0.11)),
        ("ResNet110", 88.99, 1_731_002, (7.32, 0.16), (16.05, 1.02)),
        ("ResNet110-DSC-0.35", 87.14, 1_693_880, (10.96, 0.16), (94.39, 2.03)),
        ("ResNet110-Shift-0.34", 88.81, 1_699_812, (9.81, 0.13), (16.24, 0.18)),
        ("ResNet110-Shuffle-0.25", 88.18, 1_699_146, (13.03, 0.22), (25.91, 0.21)),
    ],
    6: [
        ("ResNet20", 86.78, 278_612, (1.68, 0.04), (2.88, 0.08)),
        ("ResNet20-DSC-0.37", 86.12, 272_677, (2.13, 0.09), (12.58, 0.21)),
        ("ResNet20-Shift-0.36", 88.12, 271_215, (1.94, 0.06), (3.3, 0.12)),
        ("ResNet20-Shuffle-0.27", 89.63, 284_290, (2.53, 0.05), (4.74, 0.09)),
        ("ResNet56", 87.10, 861_908, (4.46, 0.12), (8.04, 0.09)),
        ("ResNet56-DSC-0.35", 88.77, 865_646, (5.64, 0.1), (45.29, 0.81)),
        ("ResNet56-Shift-0.34", 89.60, 869_976, (5.11, 0.09), (8.59, 0.1)),
        ("ResNet56-Shuffle-0.25", 89.97, 887_652, (6.77, 0.12), (13.05, 0.17)),
        ("ResNet110", 87.65, 1_736_852, (7.41, 0.12), (16.09, 0.21)),
        ("ResNet110-DSC-0.35", 87.21, 1_710_350, (10.81, 0.19), (94.71, 1.89)),
        ("ResNet110-Shift-0.34", 90.23, 1_716_822, (9.85, 0.25), (16.19, 0.13)),
        ("ResNet110-Shuffle-0.25", 88.72, 1_722_276, (13.18, 0.38), (24.93, 0.26)),
    ],
    7: [
        ("ResNet20-DSC", 80.37, 40_810, (2.21, 0.07), (5.28, 0.06)),
        ("ResNet20-2.5", 79.20, 41_341, (1.53, 0.05), (1.83, 0.08)),
        ("ResNet20-2.4_block", 82.30, 41_169, (2.12, 0.1), (2.13, 0.06)),
        ("ResNet56-DSC", 82.51, 120_106, (5.83, 0.14), (17.32, 0.2)),
        ("ResNet56-2.6", 82.68, 121_648, (3.81, 0.08), (4.58, 0.1)),
        ("ResNet56-2.4_block", 84.96, 117_279, (5.6, 0.09), (5.73, 0.11)),
        ("ResNet110-DSC", 83.34, 239_050, (11.5, 0.41), (36.83, 1.22)),
        ("ResNet110-2.6", 83.51, 245_632, (7.35, 0.17), (9.06, 0.14)),
        ("ResNet110-2.3_block", 84.96, 242_374, (10.85, 0.19), (11.08, 0.11)),
    ],
    8: [
        ("ResNet20-DSC", 81.08, 46_660, (2.18, 0.07), (5.29, 0.11)),
        ("ResNet20-2.4", 76.59, 47_669, (1.54, 0.04), (1.76, 0.09)),
        ("ResNet20-2.4_block", 81.09, 47_019, (2.1, 0.06), (2.2, 0.09)),
        ("ResNet56-DSC", 83.20, 125_956, (5.84, 0.09), (17.36, 0.17)),
        ("ResNet56-2.6", 80.69, 123_898, (3.92, 0.07), (4.63, 0.08)),
        ("ResNet56-2.4_block", 84.14, 123_129, (5.61, 0.12), (5.75, 0.12)),
        ("ResNet110-DSC", 83.70, 244_900, (11.53, 0.34), (36.65, 0.75)),
        ("ResNet110-2.6", 82.09, 247_882, (7.37, 0.26), (8.91, 0.1)),
        ("ResNet110-2.3_block", 85.87, 248_224, (10.61, 0.32), (11.02, 0.14)),
    ],
    9: [
        ("ResNet20-Shift", 80.81, 35_194, (1.92, 0.06), (2.07, 0.11)),
        ("ResNet20-2.7", 76.86, 34_636, (1.52, 0.06), (1.71, 0.1)),
        ("ResNet20-2.7_block", 79.91, 34_031, (2.1, 0.05), (2.13, 0.1)),
        ("ResNet56-Shift", 84.05, 102_394, (4.95, 0.04), (5.19, 0.11)),
        ("ResNet56-2.8", 80.20, 101_429, (3.82, 0.06), (4.5, 0.1)),
        ("ResNet56-2.6_block", 84.49, 104_246, (5.53, 0.07), (5.66, 0.08)),
        ("ResNet110-Shift", 85.02, 203_194, (9.56, 0.2), (9.9, 0.08)),
        ("ResNet110-2.8", 81.91, 204_857, (7.25, 0.18), (8.81, 0.1)),
        ("ResNet110-2.6_block", 85.19, 205_298, (10.82, 0.18), (11.05, 0.13)),
    ],
    10: [
        ("ResNet20-Shift", 79.80, 41_044, (2.0, 0.07), (2.08, 0.08)),
        ("ResNet20-2.6", 75.82, 41_242, (1.52, 0.03), (1.69, 0.04)),
        ("ResNet20-2.6_block", 81.07, 42_728, (2.11, 0.08), (2.23, 0.07)),
        ("ResNet56-Shift", 83.90, 108_244, (4.94, 0.1), (5.19, 0.08)),
        ("ResNet56-2.7", 78.42, 110_632, (3.77, 0.09), (4.56, 0.11)),
        ("ResNet56-2.6_block", 84.49, 110_096, (5.46, 0.06), (5.73, 0.14)),
        ("ResNet110-Shift", 85.76, 209_044, (9.88, 0.22), (10.48, 0.28)),
        ("ResNet110-2.8", 80.31, 206_927, (7.27, 0.24), (8.77, 0.08)),
        ("ResNet110-2.6_block", 84.54, 211_148, (10.77, 0.18), (11.05, 0.1)),
    ],
    11: [
        ("ResNet20-Shuffle", 81.94, 24_682, (2.55, 0.07), (2.61, 0.09)),
        ("ResNet20-3.25", 74.02, 23_604, (1.54, 0.06), (1.67, 0.1)),
        ("ResNet20-3.4_block", 79.14, 24_869, (2.05, 0.06), (2.08, 0.05)),
        ("ResNet56-Shuffle", 83.36, 67_786, (7.0, 0.08), (7.06, 0.12)),
        ("ResNet56-3.5", 77.59, 68_037, (3.86, 0.08), (4.52, 0.07)),
        ("ResNet56-3.5_block", 82.49, 67_739, (5.49, 0.09), (5.52, 0.12)),
        ("ResNet110-Shuffle", 83.19, 132_442, (13.62, 0.2), (13.72, 0.16)),
        ("ResNet110-3.5", 79.96, 137_355, (7.49, 0.17), (8.56, 0.12)),
        ("ResNet110-3.5_block", 82.75, 132_044, (10.87, 0.2), (10.75, 0.08)),
    ],
    12: [
        ("ResNet20-Shuffle", 81.48, 30_532, (2.58, 0.08), (2.58, 0.07)),
        ("ResNet20-3", 71.44, 31_169, (1.53, 0.05), (1.71, 0.1)),
        ("ResNet20-3.5_block", 77.88, 30_719, (2.06, 0.05), (2.1, 0.08)),
        ("ResNet56-Shuffle", 87.10, 73_636, (6.59, 0.14), (7.0, 0.09)),
        ("ResNet56-3.3", 75.68, 75_636, (3.94, 0.1), (4.45, 0.1)),
        ("ResNet56-3.5_block", 83.28, 73_589, (5.45, 0.09), (5.53, 0.1)),
        ("ResNet110-Shuffle", 85.79, 138_292, (13.77, 0.26), (13.9, 0.14)),
        ("ResNet110-3.5", 77.61, 139_065, (7.4, 0.19), (8.52, 0.08)),
        ("ResNet110-3.5_block", 83.35, 137_894, (10.68, 0.37), (10.74, 0.16)),
    ],
    13: [
    ],

    }.items()
}


def published(table: int) -> list[PublishedRow]:
    """The rows of seed 002's table ``table`` (1-12)."""
    if table not in SEED002_TABLES:
        raise ValueError(f"seed 002 has results tables 1 to 12, not {table!r}.")
    return SEED002_TABLES[table]


class PublishedGANRow(NamedTuple):
    """A row of seed 002's table 13: per-pixel accuracy (%, mean and 95% half-width), the
    perceptual study's error rate (as the seed prints it; ~10 volunteers per network),
    and the parameters in millions."""

    label: str
    pixel_accuracy: tuple[float, float]
    perceptual_error: float
    params_millions: float


# Table 13: pix2pix trained satellite -> map on maps <-> satellite (the reference defaults).
SEED002_TABLE13 = [
    PublishedGANRow("Pix-2-Pix", (62.18, 0.58), 0.20, 54.41),
    PublishedGANRow("Pix-2-Pix-DSC", (57.35, 0.54), 0.15, 36.14),
    PublishedGANRow("Pix-2-Pix-Shift", (60.40, 0.61), 0.20, 36.06),
    PublishedGANRow("Pix-2-Pix-Shuffle (g = 8)", (51.59, 0.62), 0.10, 35.60),
]


class ILSVRCWinner(NamedTuple):
    """One year's winning classification entry of the ImageNet challenge (ILSVRC)."""

    year: int
    entry: str
    top5_error: float  # percent, on the challenge's test set
    source: str


# The winners' chart of seed 004 (after Kaiming He's 2016 figure), as published: 2010-2014 from
# Russakovsky et al. 2015 (IJCV, "ImageNet Large Scale Visual Recognition Challenge"), later
# years from each winner's paper or the challenge's results page.
ILSVRC_WINNERS = [
    ILSVRCWinner(2010, "NEC-UIUC (Lin et al., not a CNN)", 28.2, "Russakovsky et al. 2015"),
    ILSVRCWinner(2011, "XRCE (Sanchez & Perronnin, not a CNN)", 25.8, "Russakovsky et al. 2015"),
    ILSVRCWinner(2012, "SuperVision (AlexNet)", 16.4, "Russakovsky et al. 2015"),
    ILSVRCWinner(2013, "Clarifai (Zeiler & Fergus)", 11.7, "Russakovsky et al. 2015"),
    ILSVRCWinner(2014, "GoogLeNet", 6.7, "Szegedy et al. 2015, table 2"),
    ILSVRCWinner(2015, "ResNet (MSRA)", 3.57, "He et al. 2016, table 5"),
    ILSVRCWinner(2016, "Trimps-Soushen (ensemble)", 2.99, "ILSVRC 2016 results page"),
    ILSVRCWinner(2017, "SENet (WMW)", 2.25, "Hu et al. 2018"),
]
