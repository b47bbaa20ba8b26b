"""Private implementation of spike inference for :mod:`CalSciPy.event_processing`.

``inference``: :func:`infer_spikes`, :func:`detect_events`, :func:`score_events`;
``oasis``: the compiled OASIS kernels behind ``infer_spikes``.
Import from :mod:`CalSciPy.event_processing`; the layout here may change.
"""
