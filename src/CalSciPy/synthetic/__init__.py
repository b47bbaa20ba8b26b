"""Seeded synthetic ground truth shared by tests, benchmarks and the demo.

* :func:`generate_spike_trains`: Poisson spike trains with a refractory period;
* :func:`generate_traces` → :class:`SyntheticTraces`: GCaMP-like fluorescence traces with
  their spikes, baseline F0(t), noise-free ΔF/F0 and kernel time constants;
* :func:`generate_movie` → :class:`SyntheticMovie`: uint16 movies ``(frames, y, x)`` with soma
  footprints, neuropil, background and shot noise;
* :func:`write_prairieview_session`: a synthetic Bruker PrairieView folder.
"""
from CalSciPy.synthetic.movies import SyntheticMovie, generate_movie
from CalSciPy.synthetic.prairieview import write_prairieview_session
from CalSciPy.synthetic.spikes import generate_spike_trains
from CalSciPy.synthetic.traces import SyntheticTraces, gcamp_kernel, generate_traces

__all__ = [
    "SyntheticMovie",
    "SyntheticTraces",
    "gcamp_kernel",
    "generate_movie",
    "generate_spike_trains",
    "generate_traces",
    "write_prairieview_session",
]
