"""Compiled image augmentation for fastml.nn's trainer (inputs validated by
fastml.nn.augment).

``affine_warp`` resamples every image of an NCHW batch through its own 2-D affine map
(shift, rotation, scale and flips combined into one matrix per image by the caller):
output pixel (i, j) reads the input at ``(x, y) = (m0 j + m1 i + m2, m3 j + m4 i + m5)``
with bilinear interpolation, and zero outside the image. OpenMP splits the images; each
output value depends only on its own image and matrix, so results do not depend on the
thread count.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport floor


cdef inline floating _at(const floating *p, Py_ssize_t H, Py_ssize_t W, Py_ssize_t y,
                         Py_ssize_t x) noexcept nogil:
    if y < 0 or y >= H or x < 0 or x >= W:
        return 0
    return p[y * W + x]


cdef inline double _lerp_row(const floating *p, Py_ssize_t H, Py_ssize_t W, Py_ssize_t y,
                             Py_ssize_t x0, double fx) noexcept nogil:
    if fx == 0:  # on a pixel column: the right neighbour has weight 0 and is not read
        return _at(p, H, W, y, x0)
    return (1 - fx) * _at(p, H, W, y, x0) + fx * _at(p, H, W, y, x0 + 1)


cdef inline double _bilinear(const floating *p, Py_ssize_t H, Py_ssize_t W, Py_ssize_t y0,
                             Py_ssize_t x0, double fy, double fx) noexcept nogil:
    """Bilinear interpolation at (y0 + fy, x0 + fx), 0 <= fx, fy < 1. Neighbours of weight
    0 are skipped, so that an infinite neighbour does not turn an exact pixel read (the
    identity, flips, integer shifts) into 0 * inf = NaN."""
    if fy == 0:
        return _lerp_row(p, H, W, y0, x0, fx)
    return (1 - fy) * _lerp_row(p, H, W, y0, x0, fx) + fy * _lerp_row(p, H, W, y0 + 1, x0, fx)


cdef void _warp_image(const floating *src, floating *dst, Py_ssize_t C, Py_ssize_t H,
                      Py_ssize_t W, const double *m) noexcept nogil:
    cdef Py_ssize_t c, i, j, x0, y0
    cdef double sx, sy, fx, fy
    cdef const floating *p
    cdef floating *o
    for i in range(H):
        for j in range(W):
            sx = m[0] * j + m[1] * i + m[2]
            sy = m[3] * j + m[4] * i + m[5]
            if sx <= -1 or sy <= -1 or sx >= W or sy >= H:
                for c in range(C):
                    dst[c * H * W + i * W + j] = 0
                continue
            x0 = <Py_ssize_t>floor(sx)
            y0 = <Py_ssize_t>floor(sy)
            fx = sx - x0
            fy = sy - y0
            for c in range(C):
                p = src + c * H * W
                dst[c * H * W + i * W + j] = <floating>_bilinear(p, H, W, y0, x0, fy, fx)


def affine_warp(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                const double[:, ::1] mats, int n_threads):
    """out[n] = x[n] resampled through mats[n] (6 values, see the module doc)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t n
    if N == 0:
        return
    for n in prange(N, nogil=True, num_threads=n_threads, schedule="static"):
        _warp_image(&x[n, 0, 0, 0], &out[n, 0, 0, 0], C, H, W, &mats[n, 0])
