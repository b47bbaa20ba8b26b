"""Bruker PrairieView: imaging sessions, voltage recordings and photostimulation protocols.

Submodules are imported on demand (``from CalSciPy.bruker.data import load_bruker_tifs``).
"""
