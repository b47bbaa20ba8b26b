"""Private implementation of :mod:`CalSciPy.nwb` (imports pynwb lazily, through ``_optional``)."""
