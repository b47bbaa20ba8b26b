"""
ΔF/F0 with two baselines on drifting data
=========================================

The documented ΔF/F0 recipe low-pass filters each trace and takes a low percentile of it as a
constant F0. On a recording whose baseline drifts (bleaching, slow z-motion), a constant F0
turns the drift into fake ΔF/F0. ``method="sliding"`` computes F0 as a running percentile over
``window_s`` seconds instead.
"""
import matplotlib.pyplot as plt
import numpy as np

from CalSciPy.synthetic import generate_traces
from CalSciPy.trace_processing import calculate_dfof

rate = 30.0
sim = generate_traces(n_neurons=20, n_frames=9000, frame_rate=rate, drift=0.15,
                      bleach_tau_range=(300.0, 600.0), seed=3)
constant = calculate_dfof(sim.traces, frame_rate=rate)
sliding = calculate_dfof(sim.traces, frame_rate=rate, method="sliding", window_s=30.0)

error_constant = np.median(np.abs(constant - sim.dfof_true), axis=1)
error_sliding = np.median(np.abs(sliding - sim.dfof_true), axis=1)
print(f"median |error| constant F0: {np.median(error_constant):.3f}, "
      f"sliding F0: {np.median(error_sliding):.3f}")

# %%
neuron = int(np.argmax(error_constant))
t = np.arange(sim.traces.shape[1]) / rate
fig, axes = plt.subplots(2, 1, sharex=True, figsize=(7, 4))
axes[0].plot(t, sim.traces[neuron], lw=0.6)
axes[0].set_ylabel("F (a.u.)")
axes[1].plot(t, constant[neuron], lw=0.6, label="constant F0")
axes[1].plot(t, sliding[neuron], lw=0.6, label="sliding F0")
axes[1].plot(t, sim.dfof_true[neuron], lw=0.6, color="k", label="truth")
axes[1].set_ylabel("ΔF/F0")
axes[1].set_xlabel("time (s)")
axes[1].legend(loc="upper right")
fig.tight_layout()
