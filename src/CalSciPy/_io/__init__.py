"""Private implementation of :mod:`CalSciPy.io_tools`, one module per format.

Users import from :mod:`CalSciPy.io_tools`; these modules may move.
"""
