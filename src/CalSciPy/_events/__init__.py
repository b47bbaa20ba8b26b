"""Validation of per-neuron event lists (``validation.as_event_lists``).

Spike inference moved to :mod:`CalSciPy._spikes`; this package goes once ``as_event_lists``
lives in :mod:`CalSciPy._checks`.
"""
