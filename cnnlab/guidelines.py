"""Which optimisation to try: the developer guidelines of seed 002 (sec. 5.5, fig. 29).

The dissertation compared depthwise-separable convolutions (DSC), the channel shift and the
channel shuffle in SqueezeNet and the CIFAR ResNets, and drew three conclusions for classifiers:
shuffle gives the most accuracy per parameter but no lower latency; shift gives the lowest
latency; DSC shrinks a net and raises its efficiency but not its speed. Its flowchart turns them
into advice, which :func:`recommend` follows branch by branch:

1. A net that already meets its requirements on the target platform needs none of these:
   changing it only for a little less latency or storage may bring no real benefit.
2. Faster, on a high-power platform: none of these techniques (the base nets were the fastest on
   the GPU, tables 3-4); look for other ways to change the net.
3. Faster, on a low-power device: the shift module. The seed adds that no framework had a CPU
   shift, so deploying it meant a GPU or writing the op; :mod:`cnnlab.ops` has one.
4. Smaller: try shift first, then DSC, then shuffle: shift shrinks the net and helps its latency,
   the other two shrink it at a cost in latency. If it must also be faster, shift only.

Every recommendation is to be trained, tested and validated against the requirements again.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVIDENCE", "Recommendation", "recommend"]

# What backs each kind of advice, as the seed's tables (a notebook links them to its own cells).
EVIDENCE = {
    "latency": "single-image latency of each variant on CPU and GPU (seed tables 1-4)",
    "size": "parameters and accuracy per parameter E_P of each variant (seed tables 1-4)",
    "matched": "variants at matched parameter counts: expanded and reduced nets (tables 5-12)",
}


@dataclass(frozen=True)
class Recommendation:
    """``techniques`` to try in order (empty: none of them), why, and the evidence keys."""

    techniques: tuple[str, ...]
    reason: str
    evidence: tuple[str, ...]

    @property
    def technique(self) -> str | None:
        """The first technique to try, or None."""
        return self.techniques[0] if self.techniques else None


def recommend(*, smaller: bool = False, faster: bool = False,
              low_power: bool = False) -> Recommendation:
    """Seed 002's fig. 29: what to try when the net must be ``smaller`` and/or ``faster``,
    deployed on a ``low_power`` device (else a high-power one such as a GPU server)."""
    for name, value in (("smaller", smaller), ("faster", faster), ("low_power", low_power)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}.")
    if smaller and faster:
        return Recommendation(
            ("shift",), "It must shrink without getting slower: of the three, only the shift "
            "module cuts parameters without adding latency (its blocks are 1x1 convolutions "
            "around a free shift)" + ("." if low_power else "; on a high-power platform do not "
            "expect it to beat the base net's speed."), ("size", "latency"))
    if smaller:
        return Recommendation(
            ("shift", "dsc", "shuffle"), "All three shrink the net. Shift first, as it also "
            "helps latency; then DSC and shuffle (shuffle the smallest, with the most accuracy "
            "per parameter), whose depthwise convolutions add latency.", ("size", "matched"))
    if faster and low_power:
        return Recommendation(
            ("shift",), "On a low-power device the shift nets were the fastest: no heavy "
            "convolution, only 1x1s, so little depends on parallel hardware.", ("latency",))
    if faster:
        return Recommendation(
            (), "On a high-power platform none of these techniques made a net faster (the base "
            "nets won on the GPU); change the net by other means.", ("latency",))
    return Recommendation(
        (), "The net meets its requirements: optimising it only for a little less latency or "
        "storage may bring no significant benefit.", ())
