# distutils: sources = csrc/nn_pool.c
"""Compiled pooling loops of fastml.nn (inputs validated by fastml.nn.functional).

Every function runs an OpenMP loop over the N*C planes of an NCHW array and calls a
per-plane C kernel (csrc/nn_pool.c): one pass over the input per plane, the plane being
small enough to stay in L1/L2. Arrays are C-contiguous and of consistent shapes; argmax
values are flat indices into a plane, checked to lie in [0, H*W) by the caller.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t

from fastml.utils._csrc cimport (
    fastml_avgpool_bwd_plane_f32, fastml_avgpool_bwd_plane_f64, fastml_avgpool_plane_f32,
    fastml_avgpool_plane_f64, fastml_maxpool_bwd_plane_f32, fastml_maxpool_bwd_plane_f64,
    fastml_maxpool_plane_f32, fastml_maxpool_plane_f64, fastml_plane_fill_f32,
    fastml_plane_fill_f64, fastml_plane_max_f32, fastml_plane_max_f64,
    fastml_plane_mean_f32, fastml_plane_mean_f64,
)


def max_pool(const floating[:, :, ::1] x, floating[:, :, ::1] out, int64_t[:, :, ::1] argmax,
             int kh, int kw, int sh, int sw, int ph, int pw, int n_threads):
    """x (planes, H, W) -> out, argmax (planes, H_out, W_out)."""
    cdef int64_t n = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef int64_t Ho = out.shape[1], Wo = out.shape[2], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                fastml_maxpool_plane_f32(&x[i, 0, 0], H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                                         &out[i, 0, 0], &argmax[i, 0, 0])
            else:
                fastml_maxpool_plane_f64(&x[i, 0, 0], H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                                         &out[i, 0, 0], &argmax[i, 0, 0])


def max_pool_backward(const floating[:, ::1] g, const int64_t[:, ::1] argmax,
                      floating[:, ::1] dx, int n_threads):
    """g, argmax (planes, n_out) -> dx (planes, H*W): dx[argmax] += g, zero elsewhere."""
    cdef int64_t n = g.shape[0], no = g.shape[1], hw = dx.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                fastml_maxpool_bwd_plane_f32(&g[i, 0], &argmax[i, 0], no, &dx[i, 0], hw)
            else:
                fastml_maxpool_bwd_plane_f64(&g[i, 0], &argmax[i, 0], no, &dx[i, 0], hw)


def avg_pool(const floating[:, :, ::1] x, floating[:, :, ::1] out, int kh, int kw, int sh,
             int sw, int ph, int pw, bint include_pad, int n_threads):
    cdef int64_t n = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef int64_t Ho = out.shape[1], Wo = out.shape[2], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                fastml_avgpool_plane_f32(&x[i, 0, 0], H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                                         include_pad, &out[i, 0, 0])
            else:
                fastml_avgpool_plane_f64(&x[i, 0, 0], H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                                         include_pad, &out[i, 0, 0])


def avg_pool_backward(const floating[:, :, ::1] g, floating[:, :, ::1] dx, int kh, int kw,
                      int sh, int sw, int ph, int pw, bint include_pad, int n_threads):
    cdef int64_t n = g.shape[0], Ho = g.shape[1], Wo = g.shape[2]
    cdef int64_t H = dx.shape[1], W = dx.shape[2], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                fastml_avgpool_bwd_plane_f32(&g[i, 0, 0], H, W, kh, kw, sh, sw, ph, pw, Ho,
                                             Wo, include_pad, &dx[i, 0, 0])
            else:
                fastml_avgpool_bwd_plane_f64(&g[i, 0, 0], H, W, kh, kw, sh, sw, ph, pw, Ho,
                                             Wo, include_pad, &dx[i, 0, 0])


def global_avg_pool(const floating[:, ::1] x, floating[::1] out, int n_threads):
    """x (planes, H*W) -> out (planes,) means."""
    cdef int64_t n = x.shape[0], hw = x.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                out[i] = fastml_plane_mean_f32(&x[i, 0], hw)
            else:
                out[i] = fastml_plane_mean_f64(&x[i, 0], hw)


def global_max_pool(const floating[:, ::1] x, floating[::1] out, int64_t[::1] argmax,
                    int n_threads):
    cdef int64_t n = x.shape[0], hw = x.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                out[i] = fastml_plane_max_f32(&x[i, 0], hw, &argmax[i])
            else:
                out[i] = fastml_plane_max_f64(&x[i, 0], hw, &argmax[i])


def global_avg_pool_backward(const floating[::1] g, floating[:, ::1] dx, int n_threads):
    cdef int64_t n = dx.shape[0], hw = dx.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                fastml_plane_fill_f32(&dx[i, 0], hw, g[i] / <float>hw)
            else:
                fastml_plane_fill_f64(&dx[i, 0], hw, g[i] / <double>hw)


def global_max_pool_backward(const floating[::1] g, const int64_t[::1] argmax,
                             floating[:, ::1] dx, int n_threads):
    cdef int64_t n = dx.shape[0], hw = dx.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                fastml_plane_fill_f32(&dx[i, 0], hw, 0)
            else:
                fastml_plane_fill_f64(&dx[i, 0], hw, 0)
            dx[i, argmax[i]] = g[i]
