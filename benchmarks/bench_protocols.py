"""Benchmark: photostimulation protocol I/O and spiral masks.

Rows (median of 5 rounds, seconds):
- read a 2000-point .gpl: ours (defusedxml parse + dataclasses + validation) vs the reference,
  a bare defusedxml parse collecting each element's attribute dict (no conversion/validation);
- write it: ours (PrairieView-style text) vs ElementTree.tostring of the parsed tree;
- 2000 spiral masks (radius 10 px) in a 512 x 512 field: ours (bounding-box evaluation) vs the
  reference, evaluating the ellipse on the whole image grid for each target.
"""
from __future__ import annotations

import statistics
import time
from xml.etree.ElementTree import tostring

import defusedxml.ElementTree as DET
import numpy as np

from CalSciPy.bruker.factories import BrukerElementFactory, BrukerXMLFactory
from CalSciPy.bruker.mark_points import build_protocol, generate_photostimulation_mask


def median_time(func, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    targets = rng.uniform(0, 511, size=(2000, 2))
    gpl, _ = build_protocol(targets, 512, (-7.6, 7.6), groups=[range(1000), range(1000, 2000)])
    text = "".join(BrukerXMLFactory().constructor(gpl))
    data = text.encode("utf-8")
    factory = BrukerElementFactory()
    root = DET.fromstring(data)

    def ours_read():
        return factory.constructor(DET.fromstring(data))

    def reference_read():
        return [dict(element.attrib) for element in DET.fromstring(data)]

    writer = BrukerXMLFactory()

    def ours_write():
        return "".join(writer.constructor(gpl))

    def reference_write():
        return tostring(root, encoding="unicode")

    rows, cols = np.indices((512, 512))

    def ours_masks():
        return [generate_photostimulation_mask(c, 10, (512, 512)) for c in targets]

    def reference_masks():
        return [np.nonzero(((rows - r) / 10) ** 2 + ((cols - c) / 10) ** 2 < 1)
                for r, c in targets]

    assert ours_read() == gpl
    same = all(np.array_equal(a, np.stack(b)) for a, b in
               zip(ours_masks()[:50], reference_masks()[:50]))
    assert same
    table = [
        ("read 2000-point .gpl", median_time(ours_read), median_time(reference_read)),
        ("write 2000-point .gpl", median_time(ours_write), median_time(reference_write)),
        ("2000 spiral masks r=10 px", median_time(ours_masks, 3), median_time(reference_masks, 1)),
    ]
    print(f"{'task':<28}{'ours (s)':>12}{'reference (s)':>15}{'ours/ref':>10}")
    for name, ours, reference in table:
        print(f"{name:<28}{ours:>12.4f}{reference:>15.4f}{ours / reference:>10.2f}")


if __name__ == "__main__":
    main()
