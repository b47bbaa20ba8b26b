"""
Events versus OASIS spike inference, against the truth
======================================================

``identify_events`` (documented in 0.3.x) marks the steepest rise of a one-second-smoothed
trace. ``infer_spikes`` deconvolves each trace with OASIS, and ``detect_events`` turns the
inferred activity into spike-level onsets. On synthetic data we know the true spike frames, so
both can be scored (precision, recall, F1 within ±3 frames).
"""
import matplotlib.pyplot as plt
import numpy as np

from CalSciPy.event_processing import detect_events, identify_events, infer_spikes, score_events
from CalSciPy.synthetic import generate_traces
from CalSciPy.trace_processing import calculate_dfof

rate = 30.0
sim = generate_traces(n_neurons=30, n_frames=3000, frame_rate=rate, seed=5)
dfof = calculate_dfof(sim.traces, frame_rate=rate, method="sliding")

documented = identify_events(dfof, frame_rate=rate)
inference = infer_spikes(dfof, rate, progress=False)
onsets = detect_events(dfof, rate, inference=inference)

print("identify_events:", score_events(documented, sim.event_frames, tolerance=3))
print("detect_events:  ", score_events(onsets, sim.event_frames, tolerance=3))

# %%
neuron = 0
t = np.arange(dfof.shape[1]) / rate
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(t, dfof[neuron], lw=0.6, color="0.4", label="ΔF/F0")
ax.plot(t, inference.spikes[neuron], lw=0.6, label="OASIS activity")
ax.vlines(np.asarray(sim.event_frames[neuron]) / rate, -0.6, -0.3, color="k", label="true")
ax.vlines(np.asarray(onsets[neuron]) / rate, -1.0, -0.7, color="C1", label="detected")
ax.set_xlim(0, 40)
ax.set_xlabel("time (s)")
ax.legend(loc="upper right", ncols=2)
fig.tight_layout()
