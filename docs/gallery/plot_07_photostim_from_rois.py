"""
Design a photostimulation protocol from ROIs
============================================

A MarkPoints protocol stimulates chosen targets with a spiral of the uncaging laser.
``PhotostimulationMeta.from_rois`` places one point at each ROI's centroid (named after the ROI
id), converts pixel positions to galvo voltages for the field of view, and writes the series
and galvo point list that PrairieView loads.
"""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from CalSciPy.bruker.mark_points import PhotostimulationMeta
from CalSciPy.roi_tools import plot_rois
from CalSciPy.synthetic import generate_movie

movie = generate_movie(n_frames=50, shape=(256, 256), n_neurons=8, seed=8)
targets = movie.rois.select(ids=movie.rois.ids[:6])

meta = PhotostimulationMeta.from_rois(
    targets, voltage_range=(-7.6, 7.6), fov_size=(256, 256),
    groups=[targets.ids[:3], targets.ids[3:]],
    laser_power=300, duration=50, spiral_size=12, spiral_revolutions=10, repetitions=5)
for group in meta.groups:
    print(group.name, "points", group.indices)

folder = Path(tempfile.mkdtemp())
meta.generate_protocol(str(folder / "six_targets"))
print(sorted(p.name for p in folder.iterdir()))

# %%
fig, ax = plt.subplots(figsize=(4, 4))
plot_rois(targets, movie.images.mean(axis=0), ax=ax)
ax.set_title("targets (ROI ids)")
fig.tight_layout()
