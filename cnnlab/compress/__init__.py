"""After training: pruning, int8 quantization and low-rank factorization (seed 002, section 3.1.1).

==========  ==================================================================================
prune       global magnitude pruning over ``torch.nn.utils.prune``, the prune -> fine-tune loop,
            sparsity, and what a sparse (CSR) copy of a pruned weight would store
quantize    affine int8 of one tensor (scale, zero point), the bits of a float32 and an int8
            number, and post-training dynamic and static int8 of a whole network
lowrank     a linear or 1x1 layer as two thinner ones from its truncated SVD
subject     the network compressed here: small_cnn trained on the shapes data, and fine-tuning
==========  ==================================================================================

Sizes and latencies are measured with :func:`cnnlab.bench.checkpoint_bytes` and
:func:`cnnlab.bench.batch_latency`; :func:`cnnlab.summary.storage` counts the weights a pruned
or quantized network really stores.
"""

from cnnlab.compress.lowrank import factorize, low_rank, low_rank_error
from cnnlab.compress.prune import (
    global_magnitude,
    make_permanent,
    prunable,
    prune_to,
    sparse_bytes,
    sparsity,
)
from cnnlab.compress.quantize import (
    affine_int8,
    bits_float32,
    bits_int8,
    dynamic_int8,
    static_int8,
)
from cnnlab.compress.subject import accuracy, fine_tune, subject_data, trained_subject

__all__ = ["accuracy", "affine_int8", "bits_float32", "bits_int8", "dynamic_int8", "factorize",
           "global_magnitude", "low_rank", "low_rank_error", "make_permanent", "prunable", "prune_to",
           "sparse_bytes", "sparsity", "static_int8", "subject_data", "trained_subject", "fine_tune"]
