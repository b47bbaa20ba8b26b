"""Implementation of :mod:`CalSciPy.interactive_visuals` (import from there, not from here).

``browser`` holds the shared neuron browser (figure, keys, slider, saving); ``traces``,
``spikes`` and ``trials`` hold one plot kind each; ``static`` builds headless figures.
Nothing here imports :mod:`matplotlib.pyplot` at import time.
"""
