"""Private implementation of :mod:`CalSciPy.event_processing` (event lists, spike inference).

Import from :mod:`CalSciPy.event_processing`; the layout here may change.
"""
