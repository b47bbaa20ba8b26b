"""
Align voltage and find stimulus onsets
======================================

PrairieView records analogue inputs (TTL pulses from a stimulus computer, a photodiode, a
treadmill) in a VoltageRecording CSV on its own clock. ``find_onsets`` finds the pulses with an
automatic threshold (midpoint between the signal's two levels) and hysteresis, and maps each
onset to **the first imaging frame that starts at or after it**.
"""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from CalSciPy.bruker.data import load_voltage_recording
from CalSciPy.bruker.session import read_prairieview_session
from CalSciPy.synthetic import write_prairieview_session
from CalSciPy.trials import find_onsets

folder = Path(tempfile.mkdtemp()) / "TSeries-002"
written = write_prairieview_session(folder, n_frames=300, shape=(32, 32), frame_rate=30.0,
                                    stimulus_interval=2.0, stimulus_duration=0.5, seed=4)
session = read_prairieview_session(folder)
voltage = load_voltage_recording(folder)          # index: time (ms); one column per signal
print(voltage.columns.tolist())

# %%
# A little noise on the TTL, as on a real rig: the hysteresis still gives one onset per pulse.
rng = np.random.default_rng(0)
stimulus = voltage["Stimulus"] + rng.normal(0.0, 0.3, len(voltage))
onsets = find_onsets(stimulus, frame_times=session.frame_times_s[:, 0])
print(f"{len(onsets.times_ms)} onsets; threshold {onsets.threshold:.2f} V")
print("true onsets (s):", np.round(written.stimulus_onsets[:5], 3))
print("found (s):      ", np.round(onsets.times_ms[:5] / 1000, 3))
print("onset frames:   ", onsets.frames[:5])

# %%
t = voltage.index.to_numpy() / 1000
frames = session.frame_times_s[:, 0]
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(t, stimulus, lw=0.5, color="0.5", label="Stimulus (V)")
ax.axhline(onsets.threshold, color="C1", lw=0.8, label="threshold")
ax.vlines(frames[onsets.frames], -1, 6, color="C3", lw=1.0, label="onset frame starts")
ax.set_xlim(0, 5)
ax.set_xlabel("time (s)")
ax.legend(loc="upper right", fontsize="small")
fig.tight_layout()
