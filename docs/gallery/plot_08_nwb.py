"""
Write and read NWB
==================

Neurodata Without Borders is how this field shares and archives recordings (DANDI requires it).
``write_nwb`` writes the PrairieView session (movie streamed and compressed, every frame with its
exact time, optics from the XML), the voltage recording, the ROIs and their traces to one file;
``read_nwb`` gives back CalSciPy's own objects, bit for bit.
"""
import tempfile
from pathlib import Path

import numpy as np

from CalSciPy.bruker.session import read_prairieview_session
from CalSciPy.nwb import read_nwb, write_nwb
from CalSciPy.roi_tools import extract_traces
from CalSciPy.synthetic import generate_movie, write_prairieview_session

movie = generate_movie(n_frames=120, shape=(48, 48), n_neurons=5, seed=9)
folder = Path(tempfile.mkdtemp()) / "TSeries-003"
write_prairieview_session(folder, movie.images, frame_rate=30.0)
session = read_prairieview_session(folder)
F, Fneu = extract_traces(session.stack(0, 0), movie.rois, min_neuropil_pixels=100,
                         progress=False)

path = write_nwb(folder.parent / "session.nwb", session,
                 indicator="GCaMP6s", location="VISp", emission_wavelength=510.0,
                 rois=movie.rois, fluorescence=F, neuropil=Fneu,
                 subject_id="mouse-01", species="Mus musculus", sex="F", age="P90D",
                 session_description="synthetic example session", progress=False)
print(path.name, f"{path.stat().st_size / 1e6:.2f} MB")

# %%
with read_nwb(path) as contents:
    stack = contents.stacks[(0, 0)]
    print("pixels identical:", np.array_equal(np.asarray(stack), movie.images))
    print("frame times identical:",
          np.allclose(contents.frame_times_s, session.frame_times_s, rtol=0, atol=1e-6))
    print("traces identical:", np.array_equal(contents.traces["fluorescence"], F))
    print("ROI ids:", contents.rois.ids.tolist())
