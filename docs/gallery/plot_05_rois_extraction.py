"""
ROIs and trace extraction with neuropil
=======================================

ROIs come from suite2p (``stat.npy``), CaImAn (footprint matrix ``A``), a label image
(Cellpose, ImageJ) or boolean masks; all become an :class:`~CalSciPy.roi_tools.ROISet` with ids.
``extract_traces`` reads the movie block by block and computes every ROI's fluorescence and its
neuropil (suite2p's rule) with one sparse product per block. Here the synthetic movie's true
somata are the ROIs, so the extracted traces can be compared with the truth.
"""
import matplotlib.pyplot as plt
import numpy as np

from CalSciPy.roi_tools import ROISet, extract_traces, plot_rois, subtract_neuropil
from CalSciPy.synthetic import generate_movie
from CalSciPy.trace_processing import calculate_dfof

movie = generate_movie(n_frames=1800, shape=(96, 96), n_neurons=12, seed=6)
rois = movie.rois
print(len(rois), "ROIs, ids", rois.ids.tolist())

# the same ROIs from a label image, as Cellpose would give them
labels = np.zeros(rois.shape, dtype=np.int32)
for roi in rois:
    labels[roi.ypix, roi.xpix] = roi.id + 1
print("from labels:", ROISet.from_labels(labels).ids.tolist())

# %%
F, Fneu = extract_traces(movie.images, rois, min_neuropil_pixels=150, progress=False)
corrected = subtract_neuropil(F, Fneu, 0.7)
dfof = calculate_dfof(corrected, frame_rate=movie.frame_rate, method="sliding", window_s=10.0)
truth = movie.traces.dfof_true
active = [i for i in range(len(rois)) if truth[i].std() > 0]   # neurons that fired
r = [np.corrcoef(dfof[i], truth[i])[0, 1] for i in active]
print(f"correlation with the true ΔF/F0 ({len(active)} active neurons): "
      f"median {np.median(r):.2f}, min {np.min(r):.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
plot_rois(rois, movie.images.mean(axis=0), neuropil=True, ax=axes[0])
t = np.arange(dfof.shape[1]) / movie.frame_rate
shown = active[0]
axes[1].plot(t, dfof[shown], lw=0.7, label=f"ROI {rois.ids[shown]} extracted")
axes[1].plot(t, truth[shown], lw=0.7, color="k", label="truth")
axes[1].set_xlabel("time (s)")
axes[1].set_ylabel("ΔF/F0")
axes[1].legend(loc="upper right")
fig.tight_layout()
