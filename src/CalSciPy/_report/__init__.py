"""Private implementation of :mod:`CalSciPy.report`: the pipeline of ``calscipy analyze``
and the figures of its report."""
