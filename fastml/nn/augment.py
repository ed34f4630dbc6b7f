"""Data augmentation for images, applied per training batch by the trainer.

:class:`ImageAugmenter` draws, for every image of a batch, a random shift, rotation,
scale and (optionally) horizontal / vertical flip, combines them into one affine map
per image and resamples the batch in compiled code (``fastml/nn/_augment.pyx``: bilinear
interpolation, zero outside the image, OpenMP over the images). The random draws come
from the trainer's generator (its ``random_state``), vectorised per batch, so a run is
reproducible and does not depend on the thread count.

``Trainer(..., augment=ImageAugmenter(shift=0.1, rotation=10, scale=0.1))`` or
``augment={"shift": 0.1, "rotation": 10}``; ``augment="digits"`` is a preset for
handwritten digits (shift 0.1, rotation 10 degrees, scale 0.1, no flips).
"""
import numbers

import numpy as np

from fastml.nn import _augment
from fastml.utils import max_usable_threads
from fastml.utils.validation import aligned

__all__ = ["ImageAugmenter", "get_augmenter", "is_pixel_dtype"]


def is_pixel_dtype(dtype):
    """uint8 arrays are pixel intensities 0-255 (scaled to [0, 1] by the trainer)."""
    return np.dtype(dtype) == np.uint8


def _nonneg(v, name, high=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) \
            or v < 0 or (high is not None and v > high):
        rng = f"[0, {high}]" if high is not None else ">= 0"
        raise ValueError(f"{name} must be a finite number in {rng}, got {v!r}.")
    return float(v)


class ImageAugmenter:
    """Random affine augmentation of (N, C, H, W) image batches.

    Parameters
    ----------
    shift : float in [0, 0.5], default=0.1
        Largest translation as a fraction of the width / height (uniform in
        [-shift, shift] on each axis).
    rotation : float in [0, 180], default=10
        Largest rotation in degrees (uniform in [-rotation, rotation]).
    scale : float in [0, 0.5], default=0.1
        Zoom factor uniform in [1 - scale, 1 + scale].
    hflip, vflip : bool, default=False
        Mirror each image left-right / top-bottom with probability 1/2 (not for digits
        or text).
    """

    def __init__(self, shift=0.1, rotation=10.0, scale=0.1, hflip=False, vflip=False):
        self.shift = _nonneg(shift, "shift", 0.5)
        self.rotation = _nonneg(rotation, "rotation", 180.0)
        self.scale = _nonneg(scale, "scale", 0.5)
        self.hflip = bool(hflip)
        self.vflip = bool(vflip)

    def matrices(self, n, H, W, rng):
        """The (n, 6) inverse maps (output pixel -> input position), one per image."""
        cx, cy = (W - 1) / 2.0, (H - 1) / 2.0
        tx = rng.uniform(-self.shift, self.shift, n) * W
        ty = rng.uniform(-self.shift, self.shift, n) * H
        th = np.deg2rad(rng.uniform(-self.rotation, self.rotation, n))
        s = rng.uniform(1 - self.scale, 1 + self.scale, n)
        fx = np.where(rng.random(n) < 0.5, -1.0, 1.0) if self.hflip else np.ones(n)
        fy = np.where(rng.random(n) < 0.5, -1.0, 1.0) if self.vflip else np.ones(n)
        c, sn = np.cos(th) / s, np.sin(th) / s
        # input - centre = flip(R^-1 (output - centre - t) / s)
        m = np.empty((n, 6))
        m[:, 0], m[:, 1] = fx * c, fx * sn
        m[:, 3], m[:, 4] = -fy * sn, fy * c
        u0, v0 = -cx - tx, -cy - ty
        m[:, 2] = fx * (c * u0 + sn * v0) + cx
        m[:, 5] = fy * (-sn * u0 + c * v0) + cy
        return m

    def apply(self, x, rng, n_threads=1):
        """A new augmented batch from x.

        Parameters
        ----------
        x : array of shape (N, C, H, W), float32 or float64
        rng : numpy Generator (anything with its ``uniform`` and ``random``), an int seed
            or None
        n_threads : int >= 1, the OpenMP threads (capped at the usable cores and at N)

        Returns
        -------
        out : array like x
        """
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"augment works on image batches of shape (N, C, H, W), got "
                             f"shape {x.shape}; pass X as images (or input_shape=(C, H, "
                             "W) to the estimator), or augment=None.")
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"x has dtype {x.dtype}; augmentation works on float32 or "
                            "float64 images (convert with .astype(np.float32)).")
        if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
            raise TypeError(f"n_threads must be an int >= 1, got {n_threads!r}.")
        if n_threads < 1:
            raise ValueError(f"n_threads must be an int >= 1, got {n_threads!r}.")
        if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
            rng = np.random.default_rng(rng)
        elif not (hasattr(rng, "uniform") and hasattr(rng, "random")):
            raise TypeError(f"rng must be a numpy Generator (or an int seed), got "
                            f"{type(rng).__name__}.")
        x = aligned(np.ascontiguousarray(x))
        out = np.empty_like(x)
        N, _, H, W = x.shape
        n_threads = max(1, min(int(n_threads), max_usable_threads(), N))
        _augment.affine_warp(x, out, self.matrices(N, H, W, rng), n_threads)
        return out

    def __repr__(self):
        return (f"ImageAugmenter(shift={self.shift}, rotation={self.rotation}, "
                f"scale={self.scale}, hflip={self.hflip}, vflip={self.vflip})")


_PRESETS = {"digits": dict(shift=0.1, rotation=10.0, scale=0.1),
            "images": dict(shift=0.1, rotation=10.0, scale=0.1, hflip=True)}


def get_augmenter(augment):
    """None, an :class:`ImageAugmenter`, a dict of its parameters or a preset name
    ("digits", "images") -> an augmenter or None."""
    if augment is None or augment is False:
        return None
    if isinstance(augment, ImageAugmenter):
        return augment
    if isinstance(augment, dict):
        try:
            return ImageAugmenter(**augment)
        except TypeError as exc:
            raise TypeError(f"augment: {exc}; the keys are shift, rotation, scale, hflip, "
                            "vflip.") from None
    if isinstance(augment, str) and augment in _PRESETS:
        return ImageAugmenter(**_PRESETS[augment])
    raise ValueError(f"augment must be None, an ImageAugmenter, a dict of its parameters or "
                     f"one of {sorted(_PRESETS)}, got {augment!r}.")
