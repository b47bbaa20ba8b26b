"""From pixels to traces: ROIs, suite2p and CaImAn outputs, extraction with neuropil.

Coordinate convention
---------------------
Every function here uses ``(row, col)``: ``ypix`` are rows (first image axis, y), ``xpix``
columns (second axis, x); pixel ``(r, c)`` is ``image[r, c]``; its flat index in a
``(Ly, Lx)`` frame is ``r * Lx + c``; centroids are ``(row, col)`` and bounding boxes
``(row_start, col_start, row_stop, col_stop)`` (stops exclusive). suite2p's ``ypix``/``xpix``
already follow it; CaImAn's Fortran-order footprints are converted on reading.

Overview
--------
- :class:`ROI`, :class:`ROISet` — ROIs with ids, weights and a sparse ``(rois, pixels)``
  weights matrix; constructors from suite2p ``stat``, CaImAn ``A``, label images and masks.
- :func:`load_suite2p`, :func:`load_suite2p_binary`, :func:`load_caiman` — readers that need
  neither suite2p nor CaImAn.
- :func:`extract_traces`, :func:`neuropil_masks`, :func:`subtract_neuropil` — ROI and neuropil
  traces from any frames-first movie (numpy, memmap, lazy TIFF/binary/PrairieView stacks, dask),
  with suite2p's neuropil rule.
- :func:`plot_rois` — contours labelled with ids over the mean image.

Examples
--------
>>> import numpy as np
>>> from CalSciPy.roi_tools import ROISet, extract_traces, subtract_neuropil
>>> labels = np.zeros((64, 64), dtype=int)
>>> labels[10:15, 10:15] = 7
>>> labels[40:46, 30:36] = 9
>>> rois = ROISet.from_labels(labels)
>>> rois.ids.tolist()
[7, 9]
>>> movie = np.random.default_rng(0).poisson(50, (20, 64, 64)).astype(np.uint16)
>>> F, Fneu = extract_traces(movie, rois, min_neuropil_pixels=100, progress=False)
>>> F.shape, Fneu.shape
((2, 20), (2, 20))
>>> corrected = subtract_neuropil(F, Fneu, 0.7)
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from CalSciPy._rois import extract as _extract
from CalSciPy._rois import suite2p as _suite2p
from CalSciPy._rois.caiman import CaimanData
from CalSciPy._rois.caiman import load_caiman as _load_caiman
from CalSciPy._rois.roi import ROI, ROISet
from CalSciPy._rois.suite2p import Suite2pBinary, Suite2pData, Suite2pSettings

__all__ = [
    "ROI",
    "ROISet",
    "CaimanData",
    "Suite2pBinary",
    "Suite2pData",
    "Suite2pSettings",
    "extract_traces",
    "load_caiman",
    "load_suite2p",
    "load_suite2p_binary",
    "neuropil_masks",
    "plot_rois",
    "subtract_neuropil",
]


def load_suite2p(path: str | os.PathLike, *, plane: int | None = None) -> Suite2pData:
    """Read suite2p output without importing suite2p.

    Parameters
    ----------
    path
        A plane folder (``.../suite2p/plane0``, or its ``stat.npy``), a ``suite2p/`` root
        holding ``plane0 .. planeN``, or the folder above it. A root's planes are concatenated
        in plane order (ids = row in the concatenation, suite2p's ``combined`` numbering; each
        ROI keeps in-plane coordinates and its ``plane``). A ``combined/`` folder is read only
        when there are no plane folders, with a warning: its coordinates are tiled across planes
        on one canvas and index no single plane's movie.
    plane
        With a root: read only this plane (ids then restart at 0, as in the plane folder).

    Returns
    -------
    Suite2pData
        ``F``, ``Fneu``, ``spks`` (``(rois, frames)`` float32, ``None`` when not saved),
        ``iscell``/``iscell_prob``, ``redcell``/``redcell_prob``, ``F_chan2``/``Fneu_chan2``,
        ``rois`` (every ROI of ``stat.npy``; ``data.rois.select(mask=data.iscell)`` keeps the
        cells), ``settings`` (fs, nplanes, nchannels, Ly, Lx, meanImg, tau, neucoeff, nframes,
        the neuropil settings and ``raw``) and ``path``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        Not suite2p output (the message says what was expected), or inconsistent files: an
        ``iscell.npy``/trace file whose length differs from ``stat.npy``, traces of different
        frame counts, a pickle that is not suite2p's.

    Notes
    -----
    Settings come from the suite2p >= 1.0 split files (``db.npy``, ``settings.npy``,
    ``reg_outputs.npy``, ``detect_outputs.npy``, merged in that order, nested groups such as
    ``settings['extraction']`` searched) when present, else from the single ``ops.npy``
    (suite2p <= 0.14). Only ``stat.npy`` and those settings files are unpickled, by a restricted
    unpickler that rebuilds numpy arrays and plain containers and refuses anything else;
    trace and label files must be plain numeric arrays. ``stat['overlap']`` is kept on each
    ROI and honoured by :func:`extract_traces`.
    """
    return _suite2p.load_suite2p(path, plane=plane)


def load_suite2p_binary(plane_folder: str | os.PathLike, *, file: str = "data.bin",
                        undo_uint16_halving: bool = False) -> Suite2pBinary:
    """suite2p's registered movie ``data.bin`` as a lazy ``(frames, Ly, Lx)`` stack.

    Parameters
    ----------
    plane_folder
        The plane folder; ``Ly``/``Lx`` (and ``nframes``, checked) come from its settings.
    file
        Binary inside the folder: ``"data.bin"`` (registered), ``"data_raw.bin"``,
        ``"data_chan2.bin"``...
    undo_uint16_halving
        suite2p converts uint16 input to int16 as ``value // 2`` when it writes the binary (so
        that it fits in int16). With True the stack returns ``2 × value`` as uint16 — the
        original brightness scale, to within the lost lowest bit. Leave False for int16 input
        or to keep suite2p's scale (its ``F.npy`` is on the halved scale).

    Returns
    -------
    Suite2pBinary
        A :class:`CalSciPy._io.source.FrameSource`: ``stack[i]``, ``stack[a:b]`` read only
        those frames; :func:`extract_traces` streams it block by block.
    """
    return _suite2p.load_suite2p_binary(plane_folder, file=file,
                                        undo_uint16_halving=undo_uint16_halving)


def load_caiman(path: str | os.PathLike) -> CaimanData:
    """Read a CaImAn results file (``cnm.save('results.hdf5')``) with h5py.

    ``estimates/A`` (CSC ``data/indices/indptr/shape``; each column is reshaped in Fortran
    order, so pixel ``p`` is row ``p % d1``, column ``p // d1``) becomes an :class:`ROISet`
    whose ids are the component indices; ``C``, ``S``, ``YrA``, ``F_dff``, ``b``, ``f``,
    ``dims``, the frame rate (``params/data/fr``) and the accepted components
    (``idx_components``) are returned as a :class:`CaimanData`. Entries saved as the string
    ``'NoneType'`` (CaImAn's way of storing None) read as ``None``.

    Requires h5py (``pip install 'calscipy[nwb]'``).

    Raises
    ------
    DataFormatError
        Not HDF5, no ``estimates`` group, no footprints, or inconsistent shapes.
    """
    return _load_caiman(path)


def extract_traces(images: Any, rois: ROISet, *, neuropil: bool = True, inner_radius: int = 2,
                   min_neuropil_pixels: int = 350, lam_percentile: float = 50.0,
                   allow_overlap: bool = False, batch_frames: int | None = None,
                   progress: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """ROI and neuropil fluorescence traces from a movie, suite2p's way.

    Parameters
    ----------
    images
        ``(frames, Ly, Lx)`` movie of one plane: a numpy array or memmap, a lazy stack
        (:class:`~CalSciPy._io.source.FrameSource`: TIFF stacks, PrairieView session stacks,
        :func:`load_suite2p_binary`), a dask or Zarr array, any array-like indexable by frame
        slices. Any real dtype; it is read once, block by block.
    rois
        The ROIs, drawn on ``(Ly, Lx)`` frames, all of one plane.
    neuropil
        Also compute neuropil traces; False returns ``(F, None)``.
    inner_radius
        Pixels between a cell and its neuropil: the ROI dilated (4-connected) this many times
        is never neuropil.
    min_neuropil_pixels
        The neuropil rectangle grows (5 px per side and step, at most 100 steps) until it holds
        more than this many usable pixels.
    lam_percentile
        Cell pixels excluded from every neuropil mask: pixels of any ROI of the segmentation
        whose weight (the largest ROI weight there) is not below the ``lam_percentile``
        percentile of the weights in a ``5 × median radius`` window around it (suite2p's
        ``percentile_filter`` rule; dim edges of cells stay usable). 0 excludes every ROI pixel.
    allow_overlap
        Keep pixels shared by two ROIs (``ROI.overlap``) in both; by default they are dropped
        from the cell weights (not from the neuropil rule).
    batch_frames
        Frames per block. Default: the dask chunk size along frames, else ~64 MiB of frames.
        Memory besides the outputs is bounded by three blocks (the one in use and two read
        ahead in the background while it is computed; none for an in-memory array). A memmap
        is read from its file directly (``O_DIRECT`` where its pages are not cached), so
        extraction keeps the disk busy and maps none of the movie.
    progress
        Show a tqdm bar.

    Returns
    -------
    F, Fneu : numpy.ndarray
        ``(rois, frames)`` float32, rows in ``rois`` order (``rois.ids``). ``F`` is the
        ``lam``-weighted mean of each ROI's kept pixels (weights normalised to sum 1), ``Fneu``
        the plain mean of its neuropil pixels. A ROI left with no pixels (all shared with other
        ROIs) gives a NaN row with a warning, where suite2p writes 0.

    Raises
    ------
    InvalidArgumentError
        Frames whose shape differs from ``rois.shape``, not 3-D, a non-real dtype, ROIs of
        several planes, invalid settings.

    Notes
    -----
    The masks are suite2p's (``suite2p.extraction.masks``, default non-circular neuropil):
    with the same settings, the neuropil masks equal the ``neuropil_mask`` entries of a real
    suite2p ``stat.npy`` (tested), and F/Fneu equal suite2p's extraction of the same movie up
    to float rounding. Cell pixels and overlaps are taken from ``rois.context`` — the set a
    selection was made from — so extracting ``rois.select(mask=iscell)`` gives the same rows as
    extracting every ROI. Each block costs one sparse ``(2 · rois, pixels)`` × block product
    (compiled, parallel over frames, accumulating in float64); the neuropil rows are applied in
    the rule's own form, rectangle sums from running row sums minus the dilated ROI, which gives
    the same means with about a tenth of the operations of one entry per neuropil pixel.
    Blocks other than in-memory numpy arrays are read one ahead in a background thread, and a
    memmap's pages are released after their block, so memory besides ``F``/``Fneu`` stays at a
    few blocks.
    """
    return _extract.extract_traces(
        images, rois, neuropil=neuropil, inner_radius=inner_radius,
        min_neuropil_pixels=min_neuropil_pixels, lam_percentile=lam_percentile,
        allow_overlap=allow_overlap, batch_frames=batch_frames, progress=progress)


def neuropil_masks(rois: ROISet, *, inner_radius: int = 2, min_neuropil_pixels: int = 350,
                   lam_percentile: float = 50.0) -> ROISet:
    """Each ROI's neuropil mask, by the rule of :func:`extract_traces`, as an :class:`ROISet`
    with the same ids and equal weights (``.mask(shape)``, ``.contour()``, :func:`plot_rois`)."""
    return _extract.neuropil_masks(rois, inner_radius=inner_radius,
                                   min_neuropil_pixels=min_neuropil_pixels,
                                   lam_percentile=lam_percentile)


def subtract_neuropil(F: Any, Fneu: Any, coefficient: float | str = 0.7, *,
                      return_coefficients: bool = False) -> Any:
    """Neuropil-corrected traces ``F - coefficient · Fneu``.

    Parameters
    ----------
    F, Fneu
        ``(rois, frames)`` (or ``(frames,)``) ROI and neuropil traces of the same shape.
    coefficient
        A number >= 0 used for every ROI (suite2p's default 0.7), or ``"estimate"``: per ROI,
        the least-squares slope of F on Fneu over quiet frames (frames whose residual
        ``F - slope · Fneu`` is not a positive excursion of more than 2 robust s.d., re-chosen
        until stable), clipped to [0, 1]. When the fit is poor (quiet-frame R² < 0.2, under 20
        quiet frames, or a constant Fneu) the ROI falls back to 0.7, with a warning.
    return_coefficients
        Also return the ``(rois,)`` coefficients used.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        Corrected traces (float32 when both inputs are float32, else float64), and the
        coefficients when asked.

    Raises
    ------
    InvalidArgumentError
        F and Fneu differ in shape, are not 1-D/2-D real arrays, or the coefficient is invalid.

    Notes
    -----
    Why the estimate is clipped at 1: the neuropil seen through a soma is at most the neuropil
    around it (the soma displaces neuropil), so a slope above 1 means the fit absorbed the
    cell's own signal (shared activity, leaking fluorescence). Subtracting more than the
    neuropil removes part of the cell's baseline F0 as well, and since ΔF/F0 divides by that
    baseline, an over-subtracted F0 near zero inflates ΔF/F0 without bound (and can make it
    negative). Coefficients above 1 given explicitly are used as given, with a warning.
    """
    if not isinstance(coefficient, str):
        import math
        import warnings

        try:
            value = float(coefficient)
        except (TypeError, ValueError):
            value = math.nan
        if math.isfinite(value) and value > 1:
            warnings.warn(f"neuropil coefficient {value} > 1 over-subtracts the neuropil and "
                          "inflates ΔF/F0", RuntimeWarning, stacklevel=2)
    return _extract.subtract_neuropil(F, Fneu, coefficient,
                                      return_coefficients=return_coefficients)


def plot_rois(rois: ROISet, image: Any = None, *, neuropil: ROISet | bool = False,
              labels: bool = True, ax: Any = None, **options: Any) -> Any:
    """ROI contours over an image (e.g. the mean image), each labelled with its id.

    Parameters
    ----------
    rois
        The ROIs to draw.
    image
        ``(Ly, Lx)`` background image (e.g. ``data.settings.meanImg``); ``None`` draws on black.
    neuropil
        Also draw neuropil masks: an :class:`ROISet` from :func:`neuropil_masks`, or True to
        compute them with the default settings.
    labels
        Write each ROI's id at its centroid.
    ax
        Matplotlib axes to draw into (default: a new figure).
    **options
        ``cmap`` for the image, ``color``/``neuropil_color``, ``linewidth``, ``fontsize``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from CalSciPy._visuals.rois import plot_rois as _plot

    masks: ROISet | None
    if neuropil is True:
        masks = neuropil_masks(rois)
    elif neuropil is False:
        masks = None
    else:
        masks = neuropil
    return _plot(rois, image, neuropil=masks, labels=labels, ax=ax, **options)
