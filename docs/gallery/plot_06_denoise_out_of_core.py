"""
Denoise a movie out of core
===========================

``filter_to_file`` reads a stack block by block, filters each block with enough neighbouring
frames for the kernel, and writes the result to a new file atomically. Memory is bounded by one
block, whatever the size of the movie, and the result equals filtering the whole movie at once.
"""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from CalSciPy.image_processing import filter_to_file, median_filter
from CalSciPy.io_tools import load_binary, save_binary
from CalSciPy.synthetic import generate_movie

movie = generate_movie(n_neurons=15, n_frames=200, shape=(64, 64), seed=2)
folder = Path(tempfile.mkdtemp())
save_binary(folder / "raw", movie.images)

source = load_binary(folder / "raw", mapped=True)          # a memmap: nothing read yet
filter_to_file(source, folder / "denoised.zarr", "median", block_size=32, progress=False)

from CalSciPy.io_tools import load_zarr  # noqa: E402

denoised = np.asarray(load_zarr(folder / "denoised.zarr"))
print("identical to the in-memory filter:", np.array_equal(denoised, median_filter(movie.images)))

# %%
truth = movie.expected_images()
for name, images in (("raw", movie.images), ("denoised", denoised)):
    rmse = np.sqrt(np.mean((images.astype(float) - truth) ** 2))
    print(f"{name:9s} RMSE vs noise-free movie: {rmse:.1f}")

fig, axes = plt.subplots(1, 3, figsize=(8, 3))
for ax, (title, image) in zip(axes, (("raw", movie.images[100]), ("3×3×3 median", denoised[100]),
                                     ("noise-free", truth[100]))):
    ax.imshow(image, cmap="gray")
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
