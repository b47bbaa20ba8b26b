"""Backends of :mod:`CalSciPy.image_processing`.

``cpu`` (numba kernels, scipy fallback), ``gpu`` (cupyx through the array-module switch),
``dask`` (``map_overlap``), ``blocks`` (blockwise and out-of-core loops), ``spec`` (validated
filter descriptions shared by all of them).
"""
