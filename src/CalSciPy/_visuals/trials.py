"""Trial browser: per-condition mean ± SEM around trial onsets and a trial × time heat map."""
from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np

from CalSciPy._checks import check_frame_rate, is_real_number
from CalSciPy._visuals._validate import as_dataset, finite_range
from CalSciPy._visuals.browser import LEGEND_ABOVE, NeuronBrowser
from CalSciPy.coloring import get_color, get_colormap
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["TrialPlot", "trial_windows"]


def _default_window(onsets: np.ndarray, n_frames: int) -> tuple[int, int]:
    distinct = np.unique(onsets)
    if distinct.size > 1:
        interval = int(np.min(np.diff(distinct)))
    else:  # one onset (possibly repeated): the rest of the recording
        interval = n_frames - int(distinct[0])
    interval = max(interval, 2)
    pre = interval // 4
    return pre, interval - pre


#: the one condition label that missing labels (None, NaN) are grouped under
_MISSING = float("nan")


def _is_missing(label) -> bool:
    return label is None or (isinstance(label, (float, np.floating)) and bool(np.isnan(label)))


def _whole(value, name: str) -> int:
    """``value`` as an int, refusing fractions (a window is a whole number of frames)."""
    if not is_real_number(value):
        raise InvalidArgumentTypeError(f"{name} must be a whole number of frames, got {value!r}")
    if not np.isfinite(value) or value != int(value):
        raise InvalidArgumentError(f"{name} must be a whole number of frames, got {value!r}")
    return int(value)


def _check_bin_duration(bin_duration) -> float:
    """``bin_duration`` as a finite float > 0 (seconds)."""
    try:
        return check_frame_rate(bin_duration, "bin_duration")
    except ValueError:
        raise InvalidArgumentError(
            f"bin_duration must be a finite number of seconds > 0, got {bin_duration!r}"
        ) from None


def trial_windows(
    data: np.ndarray, onsets: np.ndarray, pre: int, post: int, neuron: int
) -> np.ndarray:
    """``(trials, pre + post)`` samples of ``data[neuron]`` from ``onset - pre`` to
    ``onset + post - 1``; samples outside the recording are NaN."""
    offsets = np.arange(-pre, post)
    index = onsets[:, None] + offsets[None, :]
    inside = (index >= 0) & (index < data.shape[1])
    row = np.asarray(data[neuron], dtype=np.float64)
    out = np.full(index.shape, np.nan)
    out[inside] = row[index[inside]]
    return out


def mean_sem(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware mean and standard error over trials (axis 0); SEM is NaN below 2 trials."""
    count = np.sum(np.isfinite(windows), axis=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(windows, axis=0)
        std = np.nanstd(windows, axis=0, ddof=1)
    sem = np.where(count > 1, std / np.sqrt(np.maximum(count, 1)), np.nan)
    return mean, sem


class TrialPlot(NeuronBrowser):
    """Browse trial-aligned responses one neuron at a time (see ``plot_trials``).

    Attributes
    ----------
    conditions : list
        Distinct condition labels in order of first appearance.
    mean_lines : list of matplotlib.lines.Line2D
        Per-condition mean response of the neuron on display.
    image : matplotlib.image.AxesImage
        Heat map, one row per trial (sorted by condition), columns = time around onset.
    trial_order : numpy.ndarray
        Trial indices in heat-map row order.
    x : numpy.ndarray
        Time (s, with ``bin_duration``) or frames relative to onset.
    """

    def __init__(
        self,
        data,
        trials,
        trial_conditions=None,
        bin_duration: float | None = None,
        y_label: str = "Firing Rate (Hz)",
        *,
        pre: int | None = None,
        post: int | None = None,
        **kwargs,
    ) -> None:
        trials_arr = np.asarray(trials)
        if trials_arr.ndim == 3:
            if not np.issubdtype(trials_arr.dtype, np.number) or trials_arr.dtype == bool:
                raise TypeError(f"trial tensor must be numeric, got {trials_arr.dtype}")
            if trials_arr.size == 0:
                raise InvalidArgumentError(f"trial tensor is empty (shape {trials_arr.shape})")
            if data is not None:
                data2d = as_dataset(data, "data")
                if data2d.shape[0] != trials_arr.shape[1]:
                    raise InvalidArgumentError(
                        f"data has {data2d.shape[0]} neurons but the trial tensor "
                        f"(trials, neurons, frames) {trials_arr.shape} has {trials_arr.shape[1]}"
                    )
            self._tensor: np.ndarray | None = trials_arr
            self._data = None
            self.onsets = None
            self.pre = 0 if pre is None else _whole(pre, "pre")
            if not 0 <= self.pre <= trials_arr.shape[2]:
                raise InvalidArgumentError(f"pre must be in 0..{trials_arr.shape[2]}, got {pre}")
            self.post = trials_arr.shape[2] - self.pre
            if post is not None and _whole(post, "post") != self.post:
                raise InvalidArgumentError(
                    f"post={post} does not fit the trial tensor: its {trials_arr.shape[2]} "
                    f"frames per trial with pre={self.pre} leave post={self.post}"
                )
            n_trials, n_neurons = trials_arr.shape[:2]
        elif trials_arr.ndim == 1:
            if data is None:
                raise InvalidArgumentError(
                    "data (neurons, frames) is required when trials are onset frames; "
                    "only a (trials, neurons, frames) tensor can be plotted without it"
                )
            self._data = as_dataset(data, "data")
            self._tensor = None
            if trials_arr.size == 0:
                raise InvalidArgumentError("trials is empty: give trial onset frames")
            onsets = trials_arr.astype(np.float64)
            if not np.all(np.isfinite(onsets)) or np.any(onsets != np.round(onsets)):
                raise InvalidArgumentError("trials must hold whole onset frame numbers")
            self.onsets = onsets.astype(np.int64)
            n_frames = self._data.shape[1]
            bad = self.onsets[(self.onsets < 0) | (self.onsets >= n_frames)]
            if bad.size:
                raise InvalidArgumentError(
                    f"trial onset frame {bad[0]} is outside the recording (0 to {n_frames - 1})"
                )
            default_pre, default_post = _default_window(self.onsets, n_frames)
            self.pre = default_pre if pre is None else _whole(pre, "pre")
            self.post = default_post if post is None else _whole(post, "post")
            if self.pre < 0 or self.post < 1:
                raise InvalidArgumentError(f"need pre >= 0 and post >= 1 frames, got {pre}, {post}")
            n_trials, n_neurons = self.onsets.size, self._data.shape[0]
        else:
            raise InvalidArgumentError(
                "trials must be 1-D onset frames or a (trials, neurons, frames) tensor, "
                f"got shape {trials_arr.shape}"
            )
        if trial_conditions is None:
            labels = np.array(["all trials"] * n_trials, dtype=object)
        else:
            labels = np.asarray(trial_conditions, dtype=object).ravel()
            if labels.size != n_trials:
                raise InvalidArgumentError(
                    f"got {labels.size} trial_conditions for {n_trials} trials; give one "
                    "label per trial"
                )
        self.trial_conditions = labels
        # NaN != NaN: without one shared NaN object every unlabelled trial was its own condition
        keys = [_MISSING if _is_missing(label) else label for label in labels.tolist()]
        self.conditions = list(dict.fromkeys(keys))
        codes = np.array([self.conditions.index(key) for key in keys])
        self.trial_order = np.argsort(codes, kind="stable")
        self._codes = codes
        self.bin_duration = None if bin_duration is None else _check_bin_duration(bin_duration)
        step = self.bin_duration or 1.0
        self.x = (np.arange(self.pre + self.post) - self.pre) * step
        self.x_label = "Time from onset (s)" if self.bin_duration else "Frames from onset"
        self.y_label = str(y_label)
        self.mean_lines: list = []
        self._fills: list = []
        self.image: Any = None
        super().__init__(n_neurons, **kwargs)

    def _default_figsize(self) -> tuple[float, float]:
        return (7.0, 7.0)

    def _height_ratios(self) -> list[float]:
        return [1.0, 1.0]

    def windows(self, neuron: int) -> np.ndarray:
        """``(trials, window)`` responses of ``neuron`` in trial order (NaN outside data)."""
        if self._tensor is not None:
            return np.asarray(self._tensor[:, neuron, :], dtype=np.float64)
        # without a tensor, __init__ set the data and the onsets
        return trial_windows(cast(np.ndarray, self._data), cast(np.ndarray, self.onsets),
                             self.pre, self.post, neuron)

    def _build(self, specs: list) -> None:
        from matplotlib.ticker import MaxNLocator

        ax_mean = self.figure.add_subplot(specs[0])
        ax_map = self.figure.add_subplot(specs[1], sharex=ax_mean)
        self.axes.extend([ax_mean, ax_map])
        for k, condition in enumerate(self.conditions):
            (line,) = ax_mean.plot(self.x, np.zeros_like(self.x), color=get_color(k),
                                   label=str(condition))
            self.mean_lines.append(line)
        ax_mean.axvline(0.0, color="#595959", linewidth=0.8, linestyle="--")
        ax_mean.set_ylabel(self.y_label)
        ax_mean.tick_params(labelbottom=False)
        if len(self.conditions) > 1:
            ax_mean.legend(**LEGEND_ABOVE)
        step = self.bin_duration or 1.0
        n_trials = len(self.trial_order)
        extent = (self.x[0] - step / 2, self.x[-1] + step / 2, n_trials - 0.5, -0.5)
        self.image = ax_map.imshow(
            np.zeros((n_trials, self.x.size)), aspect="auto", extent=extent,
            cmap=get_colormap("calscipy_activity"), interpolation="nearest",
        )
        boundaries = np.flatnonzero(np.diff(self._codes[self.trial_order])) + 0.5
        for boundary in boundaries:
            ax_map.axhline(boundary, color=get_color(3), linewidth=1.0)
        ax_map.axvline(0.0, color="#595959", linewidth=0.8, linestyle="--")
        ax_map.set_ylabel("Trial (by condition)")
        ax_map.set_xlabel(self.x_label)
        ax_map.yaxis.set_major_locator(MaxNLocator(integer=True))
        # attach the colour bar to both axes so they keep the same width (aligned time axes)
        self.figure.colorbar(self.image, ax=[ax_mean, ax_map], label=self.y_label,
                             shrink=0.45, anchor=(0.0, 0.0))

    def _update(self, neuron: int) -> None:
        windows = self.windows(neuron)
        ax_mean = self.axes[0]
        for fill in self._fills:
            fill.remove()
        self._fills = []
        self.means = []
        self.sems = []
        for k, line in enumerate(self.mean_lines):
            mean, sem = mean_sem(windows[self._codes == k])
            self.means.append(mean)
            self.sems.append(sem)
            line.set_ydata(mean)
            self._fills.append(
                ax_mean.fill_between(self.x, mean - sem, mean + sem, color=get_color(k),
                                     alpha=0.25, linewidth=0)
            )
        limits = finite_range(*(m - np.nan_to_num(s) for m, s in zip(self.means, self.sems)),
                              *(m + np.nan_to_num(s) for m, s in zip(self.means, self.sems)))
        if limits is None:
            limits = (0.0, 1.0)
        span = limits[1] - limits[0]
        margin = 0.05 * span if span > 0 else 0.5
        ax_mean.set_ylim(limits[0] - margin, limits[1] + margin)
        ax_mean.set_xlim(self.x[0], self.x[-1] if self.x.size > 1 else self.x[0] + 1)
        ordered = windows[self.trial_order]
        self.image.set_data(ordered)
        color_limits = finite_range(ordered) or (0.0, 1.0)
        if color_limits[1] <= color_limits[0]:
            color_limits = (color_limits[0], color_limits[0] + 1.0)
        self.image.set_clim(*color_limits)
