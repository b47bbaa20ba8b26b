"""
Load a PrairieView session and its frame times
==============================================

A PrairieView T-series is a folder of single-frame OME-TIFFs plus a master XML that says which
file holds which channel, plane and time point. Here we write a small synthetic 3-plane session
(bidirectional z: every other volume runs bottom to top), read it back, and look at the exact
time of every plane of every volume.
"""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from CalSciPy.bruker.data import extract_frame_times, load_bruker_tifs
from CalSciPy.bruker.session import read_prairieview_session
from CalSciPy.synthetic import write_prairieview_session

folder = Path(tempfile.mkdtemp()) / "TSeries-001"
write_prairieview_session(folder, n_frames=40, shape=(48, 48), n_planes=3,
                          bidirectional_z=True, frame_rate=10.0, seed=1)

session = read_prairieview_session(folder)
print("PrairieView", session.version, "| channels", session.n_channels,
      "| planes", session.n_planes, "| frames", session.n_frames)

# %%
# One ``(frames, y, x)`` uint16 stack per channel and plane, planes ordered by depth even in
# the reversed volumes.
stacks = load_bruker_tifs(folder)
print([stack.shape for stack in stacks])

# %%
# ``extract_frame_times`` keeps the documented integer-millisecond table (one row per volume);
# the session object has the exact float times of each plane.
print(extract_frame_times(folder / "TSeries-001.xml").head())
times = session.frame_times_s          # (frames, planes), seconds

fig, ax = plt.subplots(figsize=(6, 3))
for plane in range(times.shape[1]):
    ax.plot(times[:, plane], marker=".", linestyle="none", label=f"plane {plane}")
ax.set_xlabel("volume")
ax.set_ylabel("time (s)")
ax.legend()
fig.tight_layout()
