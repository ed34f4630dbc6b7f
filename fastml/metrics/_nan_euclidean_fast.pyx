# distutils: sources = csrc/nan_euclidean.c
"""Compiled loop of the Euclidean distance with missing values
(:mod:`fastml.metrics._nan_euclidean`; the arithmetic is described in
csrc/fastml_nan_euclidean.h).

Input is validated by the Python layer: C-contiguous float64 arrays with missing entries
as NaN (and no infinity).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint64_t

from fastml.utils._interrupt cimport check_signals, raise_pending, stopped
from fastml.utils._openmp_helpers cimport omp_get_thread_num

import numpy as np

cdef extern from "fastml_nan_euclidean.h":
    int fastml_nan_panel_width() noexcept nogil
    void fastml_nan_sqdist_f64(const double *X, int64_t nx, const double *P, int64_t npan,
                               int64_t d, double *acc, int64_t lda) noexcept nogil
    void fastml_nan_finish_f32(const double *acc, int64_t lda, const uint64_t *mx,
                               const uint64_t *my, int64_t W, int64_t nr, int64_t nc,
                               double d, int squared, float *out, int64_t ldo) noexcept nogil
    void fastml_nan_finish_f64(const double *acc, int64_t lda, const uint64_t *mx,
                               const uint64_t *my, int64_t W, int64_t nr, int64_t nc,
                               double d, int squared, double *out, int64_t ldo) noexcept nogil

#: tile of the parallel loop: TILE_ROWS rows of X x TILE_COLS rows of Y (a multiple of
#: every level's panel width)
TILE_ROWS = 16
TILE_COLS = 128


def panel_width():
    """The rows of Y per panel at the SIMD level in use (csrc/fastml_nan_euclidean.h)."""
    return fastml_nan_panel_width()


def pack_panels(const double[:, ::1] Y):
    """Y's rows in panels of :func:`panel_width` rows stored feature-major, padded with
    NaN: an array (n_panels, d, width)."""
    cdef int64_t nr = fastml_nan_panel_width()
    m, d = Y.shape[0], Y.shape[1]
    npan = (m + nr - 1) // nr
    pad = np.full((npan * nr, d), np.nan)
    pad[:m] = Y
    return np.ascontiguousarray(pad.reshape(npan, nr, d).transpose(0, 2, 1))


def presence_bits(const double[:, ::1] A):
    """Bit k of word w of row i set when A[i, 64 w + k] is not NaN: (n, W) uint64."""
    n, d = A.shape[0], A.shape[1]
    W = (d + 63) // 64
    bits = np.packbits(~np.isnan(np.asarray(A)), axis=1, bitorder="little")
    words = np.zeros((n, W * 8), dtype=np.uint8)
    words[:, :bits.shape[1]] = bits
    return words.view("<u8").astype(np.uint64, copy=False)


def nan_euclidean_block(const double[:, ::1] X, const double[:, :, ::1] P,
                        const uint64_t[:, ::1] MX, const uint64_t[:, ::1] MY,
                        floating[:, ::1] out, double d_scale, bint squared, int n_threads):
    """out[i, j] = the nan-Euclidean distance of X[i] and Y[j] (squared if ``squared``),
    from X and the panels P of Y (:func:`pack_panels`), in float64 whatever out's dtype
    (the sums are computed in float64), and the presence bits MX of X and MY of Y
    (:func:`presence_bits`); ``d_scale``: the total number of coordinates."""
    cdef int64_t nx = X.shape[0], ny = out.shape[1], d = X.shape[1]
    cdef int64_t nr = fastml_nan_panel_width(), W = MX.shape[1]
    cdef int64_t tr = TILE_ROWS, tc = TILE_COLS
    cdef int64_t nbr = (nx + tr - 1) // tr, nbc = (ny + tc - 1) // tc
    cdef int64_t ntiles = nbr * nbc, t, i0, j0, r, c
    cdef int tid
    cdef double[:, ::1] scratch = np.empty((max(1, n_threads), tr * tc), dtype=np.float64)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    if nx == 0 or ny == 0:
        return out
    with nogil:
        for t in prange(ntiles, schedule="dynamic", num_threads=n_threads):
            if stopped(stop):
                continue
            tid = omp_get_thread_num()
            if tid == 0 and check_signals(stop):
                continue
            i0 = (t // nbc) * tr
            j0 = (t % nbc) * tc
            r = min(tr, nx - i0)
            c = min(tc, ny - j0)
            fastml_nan_sqdist_f64(&X[i0, 0], r, &P[j0 // nr, 0, 0], (c + nr - 1) // nr, d,
                                  &scratch[tid, 0], tc)
            if floating is float:
                fastml_nan_finish_f32(&scratch[tid, 0], tc, &MX[i0, 0], &MY[j0, 0], W, r, c,
                                      d_scale, squared, &out[i0, j0], ny)
            else:
                fastml_nan_finish_f64(&scratch[tid, 0], tc, &MX[i0, 0], &MY[j0, 0], W, r, c,
                                      d_scale, squared, &out[i0, j0], ny)
    if stopped(stop):
        raise_pending()
    return out
