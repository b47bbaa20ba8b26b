"""Private implementation of :mod:`CalSciPy.roi_tools`.

Users import from :mod:`CalSciPy.roi_tools`; the modules here (``roi``, ``neuropil``,
``extract``, ``suite2p``, ``caiman``) may move.
"""
