"""Benchmark data: real files from a data directory when present, else synthetic data of
the same shape and value range (so every case runs anywhere)."""
import numpy as np

from fastml.datasets import load_mnist


def mnist_pixels(data_dir, n, subset="train", dtype=np.float64, seed=0):
    """``n`` MNIST images as (n, 784) pixels in [0, 1] and their labels; synthetic sparse
    blobs with the same shape and sparsity when the files are absent or unreadable
    (``data_dir`` None: the data home; never downloaded)."""
    try:
        X, y = load_mnist(data_dir, subset=subset, download=False)
        X = X[:n].reshape(min(n, len(X)), -1).astype(dtype) / 255.0
        return X.astype(dtype, copy=False), y[:n].astype(np.int64)
    except (OSError, ValueError):  # absent (FileNotFoundError is an OSError) or malformed
        # ten classes, each a sparse prototype plus noise: labels follow the pixels (as
        # in MNIST), so that k-NN votes rarely tie and classifiers can be compared
        centres = np.random.default_rng(seed).random((10, 784))
        centres *= np.random.default_rng(seed + 7).random((10, 784)) < 0.19
        rng = np.random.default_rng(seed + (subset == "test"))
        y = rng.integers(0, 10, n)
        X = np.clip(centres[y] + 0.3 * rng.random((n, 784)) * (rng.random((n, 784)) < 0.19),
                    0, 1)
        return X.astype(dtype), y
