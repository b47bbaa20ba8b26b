"""The figures of the analysis report (headless, drawn with the package's static figures)."""
from __future__ import annotations

import warnings

import numpy as np

from CalSciPy._visuals._style import new_figure, style_context
from CalSciPy.coloring import COLORS, get_colormap

__all__ = [
    "contours_figure",
    "examples_figure",
    "heatmap_figure",
    "noise_figure",
    "raster_with_onsets_figure",
    "responses_figure",
]

RESPONSIVE_COLOR = COLORS["orange"]
OTHER_COLOR = COLORS["sky"]


def _segments_path(segments) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of many polylines joined into one NaN-separated path: one artist draws them
    all (one artist per ROI or per event made the report's figures slow to build and draw)."""
    xs, ys = [], []
    gap = np.array([np.nan])
    for x, y in segments:
        xs += [np.asarray(x, dtype=np.float64), gap]
        ys += [np.asarray(y, dtype=np.float64), gap]
    if not xs:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs), np.concatenate(ys)


def contours_figure(mean_image, rois, responsive_ids: set):
    """Mean image with every ROI's contour, coloured by responsiveness, labelled with its id."""
    image = np.asarray(mean_image, dtype=np.float64)
    finite = image[np.isfinite(image)]
    low, high = np.percentile(finite, [1, 99.5]) if finite.size else (0.0, 1.0)
    ratio = image.shape[1] / max(image.shape[0], 1)
    with style_context():
        fig = new_figure((min(11.0, 6.0 * ratio + 1.0), 6.5), managed=False)
        ax = fig.add_subplot()
        ax.imshow(image, cmap=get_colormap("calscipy_fluorescence"), vmin=low, vmax=high,
                  interpolation="nearest")
        label_all = len(rois) <= 150
        groups: dict[bool, list] = {True: [], False: []}
        for roi in rois:
            responsive = int(roi.id) in responsive_ids
            groups[responsive] += [(line[:, 1], line[:, 0]) for line in roi.contour()]
            if label_all or responsive:
                row, col = roi.centroid
                # inside the image: the layout need not measure hundreds of labels
                ax.text(col, row, str(roi.id), color="white", fontsize=6, ha="center",
                        va="center", in_layout=False)
        for responsive, colour in ((False, OTHER_COLOR), (True, RESPONSIVE_COLOR)):
            if groups[responsive]:
                ax.plot(*_segments_path(groups[responsive]), color=colour, linewidth=0.9,
                        gid="responsive" if responsive else "not responsive")
        ax.set_xlim(-0.5, image.shape[1] - 0.5)
        ax.set_ylim(image.shape[0] - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{len(responsive_ids)} responsive (orange) of {len(rois)} ROIs")
    return fig


def _nanmean_sem(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=axis)
        count = np.sum(np.isfinite(values), axis=axis)
        sem = np.nanstd(values, axis=axis, ddof=1) / np.sqrt(np.maximum(count, 1))
    return mean, np.where(count > 1, sem, np.nan)


def responses_figure(data: dict, table):
    """Per condition: the trial average (mean over trials, then neurons) ± SEM over neurons of
    the responsive and of the other neurons."""
    tensor, time, conditions = data["tensor"], data["time_s"], data["conditions"]
    names = list(data["onsets"])
    ids = data["ids"]
    with style_context():
        fig = new_figure((4.2 * len(names) + 1.0, 3.6), managed=False)
        axes = fig.subplots(1, len(names), squeeze=False, sharey=True)[0]
        for ax, name in zip(axes, names):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                per_neuron = np.nanmean(tensor[conditions == name], axis=0)  # (neurons, frames)
            rows = table[table.condition == name]
            flags = np.isin(ids, rows[rows.responsive].neuron.to_numpy())
            for mask, colour, label in ((flags, RESPONSIVE_COLOR, "responsive"),
                                        (~flags, OTHER_COLOR, "not responsive")):
                if not mask.any():
                    continue
                mean, sem = _nanmean_sem(per_neuron[mask], axis=0)
                ax.plot(time, mean, color=colour, label=f"{label} (n = {int(mask.sum())})")
                ax.fill_between(time, mean - sem, mean + sem, color=colour, alpha=0.25,
                                linewidth=0)
            ax.axvspan(0.0, time[-1], color="0.9", zorder=0)
            ax.axvline(0.0, color="black", linestyle="--", linewidth=0.8)
            ax.set_title(f"{name} ({int(np.sum(conditions == name))} trials)")
            ax.set_xlabel("Time from onset (s)")
            ax.legend(loc="upper right", fontsize=8)
        axes[0].set_ylabel("ΔF/F0")
    return fig


def heatmap_figure(data: dict, table):
    """Trial-averaged ΔF/F0 of every neuron per condition, sorted by response."""
    from CalSciPy.interactive_visuals import trial_heatmap_figure
    from CalSciPy.trials import trial_average

    names = list(data["onsets"])
    average = trial_average(data["tensor"], data["conditions"], time_s=data["time_s"])
    index = [average.conditions.index(name) for name in names]
    time = data["time_s"]
    return trial_heatmap_figure(average.mean[index], time, baseline_s=(time[0], 0.0),
                                response_s=(0.0, time[-1] + 1e-6), titles=names,
                                labels=list(data["ids"]))


def _examples(table, ids: np.ndarray, count: int = 4) -> list[int]:
    """Row indices of the most responsive neurons (smallest q, largest |effect|) and one
    non-responsive neuron."""
    ranked = table.assign(abs_effect=table.effect_size.abs()).sort_values(
        ["responsive", "q_value", "abs_effect"], ascending=[False, True, False])
    picks = []
    for neuron in ranked[ranked.responsive].neuron:
        row = int(np.flatnonzero(ids == neuron)[0])
        if row not in picks:
            picks.append(row)
        if len(picks) == count:
            break
    quiet = ranked[~ranked.responsive].neuron
    if len(quiet):
        row = int(np.flatnonzero(ids == quiet.iloc[-1])[0])
        if row not in picks:
            picks.append(row)
    return picks or [0]


def examples_figure(data: dict, table, rate: float):
    """ΔF/F0 of example neurons over (up to) the first 2 minutes, onsets marked."""
    from CalSciPy.interactive_visuals import traces_figure

    dfof = data["dfof"]
    ids = data["ids"]
    picks = _examples(table, ids)
    frames = (0, min(dfof.shape[1], int(120 * rate)))
    onsets = np.concatenate([o.times_s for o in data["onsets"].values()])
    fig = traces_figure(dfof, rate, neurons=picks, frames=frames, y_labels="ΔF/F0",
                        onsets=onsets, figsize=(11.0, 1.3 * len(picks) + 1.0),
                        line_styles=[{"linewidth": 0.7}])
    for ax, row in zip(fig.axes, picks):
        ax.set_ylabel(f"ROI {ids[row]}\nΔF/F0")
    return fig


def raster_with_onsets_figure(data: dict, rate: float):
    """Events of every neuron (up to 2 minutes), stimulus onsets marked.

    All ticks are one NaN-separated line (``raster_figure`` makes one artist per neuron, and
    a line collection one path per event: both slow for the ~10⁴ events of hundreds of ROIs)."""
    from CalSciPy._visuals.onsets import mark_onsets

    n_frames = data["dfof"].shape[1]
    shown = min(n_frames, int(120 * rate))
    ids = list(data["ids"])
    rows, times = [], []
    for row, frames in enumerate(data["events"]):
        frames = np.asarray(frames)
        frames = frames[frames < shown]
        rows.append(np.full(frames.size, row, dtype=np.float64))
        times.append(frames / rate)
    rows_all = np.concatenate(rows) if rows else np.empty(0)
    times_all = np.concatenate(times) if times else np.empty(0)
    # each tick: (t, row − 0.4) → (t, row + 0.4), then a NaN break
    x = np.repeat(times_all, 3)
    x[2::3] = np.nan
    y = np.stack([rows_all - 0.4, rows_all + 0.4, np.full(rows_all.size, np.nan)],
                 axis=1).ravel()
    onsets = np.concatenate([o.times_s for o in data["onsets"].values()])
    with style_context():
        fig = new_figure((11.0, min(9.0, 2.0 + 0.05 * len(ids))), managed=False)
        ax = fig.add_subplot()
        ax.plot(x, y, color=COLORS["grey"], linewidth=0.8, solid_capstyle="butt", snap=True,
                gid="events")
        mark_onsets(ax, onsets[onsets < shown / rate])
        ax.set_xlim(0, shown / rate)
        ax.set_ylim(len(ids) - 0.5, -0.5)
        step = max(1, int(np.ceil(len(ids) / 15)))  # at most ~15 readable id labels
        ax.set_yticks(range(0, len(ids), step), [str(v) for v in ids][::step])
        ax.set_xlabel("Time (s)")
        ax.set_ylabel("ROI")
        ax.set_title("events")
    return fig


def noise_figure(noise):
    """Histogram of the standardized noise with its median."""
    from CalSciPy.interactive_visuals import histogram_figure

    values = np.asarray(noise, dtype=np.float64)
    finite = values[np.isfinite(values)]
    bins = int(min(40, max(5, finite.size // 4)))
    return histogram_figure(values, bins=bins, x_label="standardized noise (% Hz$^{-1/2}$)",
                            markers={"median": float(np.median(finite))} if finite.size else None)
