# distutils: sources = csrc/nn_conv.c
"""Compiled convolution loops of fastml.nn (inputs validated by fastml.nn.functional).

Convolution is computed as GEMM over im2col tiles (Chellapilla et al., 2006): a tile of
``B`` samples is unfolded into a per-thread buffer ``col`` of shape (K, B*P), with
K = C_in*kh*kw and P = H_out*W_out, and multiplied by the (C_out, K) weight matrix with
one BLAS call. Tiles are spread over OpenMP threads; each thread calls a single-threaded
BLAS (the caller caps BLAS at one thread), so the batch loop is the only parallelism.
Buffers are allocated once per call, per thread and per tile, never for the whole batch.

At stride 1 the direct loops of csrc/nn_conv.c are usually faster (fastml.nn.functional
chooses per shape): the padded sample seen as one flat vector makes the convolution a 1-D
correlation that runs in register blocks of 16 vectors, with no im2col copy at all.

Every function assumes C-contiguous arrays of one floating dtype with consistent shapes;
the Python layer guarantees that before calling.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

from fastml.utils._openmp_helpers cimport omp_get_thread_num

import numpy as np

cdef extern from "fastml_nn.h":
    void fastml_im2col_f32(const float *x, int64_t C, int64_t H, int64_t W, int64_t kh,
                           int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                           int64_t Ho, int64_t Wo, float *col, int64_t ldcol) noexcept nogil
    void fastml_im2col_f64(const double *x, int64_t C, int64_t H, int64_t W, int64_t kh,
                           int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                           int64_t Ho, int64_t Wo, double *col, int64_t ldcol) noexcept nogil
    void fastml_col2im_f32(const float *col, int64_t ldcol, int64_t C, int64_t H, int64_t W,
                           int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                           int64_t pw, int64_t Ho, int64_t Wo, float *x) noexcept nogil
    void fastml_col2im_f64(const double *col, int64_t ldcol, int64_t C, int64_t H, int64_t W,
                           int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                           int64_t pw, int64_t Ho, int64_t Wo, double *x) noexcept nogil
    void fastml_rows_add_bias_f32(const float *src, int64_t lds, float *out, int64_t ldo,
                                  int64_t nr, int64_t n, const float *bias) noexcept nogil
    void fastml_rows_add_bias_f64(const double *src, int64_t lds, double *out, int64_t ldo,
                                  int64_t nr, int64_t n, const double *bias) noexcept nogil
    void fastml_rows_copy_sum_f32(const float *src, int64_t lds, float *dst, int64_t ldd,
                                  int64_t nr, int64_t n, double *acc) noexcept nogil
    void fastml_rows_copy_sum_f64(const double *src, int64_t lds, double *dst, int64_t ldd,
                                  int64_t nr, int64_t n, double *acc) noexcept nogil
    int FASTML_NN_FLAT_BLOCK
    void fastml_direct_fwd_f32(const float *xp, int64_t C, int64_t plane, int64_t Wp,
                               int64_t kh, int64_t kw, const float *wpk, int nc,
                               int64_t nflat, float *obuf, int64_t ldo) noexcept nogil
    void fastml_direct_fwd_f64(const double *xp, int64_t C, int64_t plane, int64_t Wp,
                               int64_t kh, int64_t kw, const double *wpk, int nc,
                               int64_t nflat, double *obuf, int64_t ldo) noexcept nogil
    void fastml_direct_dw_f32(const float *xp, int64_t C, int64_t plane, int64_t Wp,
                              int64_t kh, int64_t kw, const float *g, int nc, int64_t ldg,
                              int64_t nflat, int64_t ns, int64_t xstride, int64_t gstride,
                              float *dwacc) noexcept nogil
    void fastml_direct_dw_f64(const double *xp, int64_t C, int64_t plane, int64_t Wp,
                              int64_t kh, int64_t kw, const double *g, int nc, int64_t ldg,
                              int64_t nflat, int64_t ns, int64_t xstride, int64_t gstride,
                              double *dwacc) noexcept nogil
    void fastml_pad_planes_f32(const float *x, int64_t C, int64_t H, int64_t W, int64_t ph,
                               int64_t pw, int64_t Hp, int64_t Wp, float *xp) noexcept nogil
    void fastml_pad_planes_f64(const double *x, int64_t C, int64_t H, int64_t W, int64_t ph,
                               int64_t pw, int64_t Hp, int64_t Wp, double *xp) noexcept nogil
    void fastml_unflat_f32(const float *obuf, int64_t ldo, int64_t nc, int64_t Ho, int64_t Wo,
                           int64_t Wp, const float *bias, float *out) noexcept nogil
    void fastml_unflat_f64(const double *obuf, int64_t ldo, int64_t nc, int64_t Ho,
                           int64_t Wo, int64_t Wp, const double *bias,
                           double *out) noexcept nogil
    void fastml_flat_grad_f32(const float *gout, int64_t nc, int64_t nrows, int64_t Ho,
                              int64_t Wo, int64_t Wp, float *g, int64_t ldg,
                              double *acc) noexcept nogil
    void fastml_flat_grad_f64(const double *gout, int64_t nc, int64_t nrows, int64_t Ho,
                              int64_t Wo, int64_t Wp, double *g, int64_t ldg,
                              double *acc) noexcept nogil

# Bytes of one thread's im2col tile: small enough to stay in L2 while BLAS reads it.
TILE_BYTES = 1 << 20


def plan_tile(int64_t n_samples, int64_t K, int64_t P, int64_t itemsize, int n_threads,
              bint direct):
    """Samples per tile: as many as fit TILE_BYTES, but enough tiles to keep every thread
    busy (a multiple of the thread count where the batch allows). ``direct`` (1x1 kernel,
    stride 1, no padding: the image already is the col matrix) means one sample per tile."""
    if direct or n_samples <= 1:
        return 1
    cdef int64_t bmax = max(1, TILE_BYTES // max(1, K * P * itemsize))
    cdef int64_t ntiles = (n_samples + bmax - 1) // bmax
    if n_samples >= n_threads:
        ntiles = ((ntiles + n_threads - 1) // n_threads) * n_threads
    ntiles = min(n_samples, ntiles)
    return int((n_samples + ntiles - 1) // ntiles)


cdef inline void _gemm_rm(bint ta, bint tb, int M, int N, int K, const floating *A, int lda,
                          const floating *B, int ldb, floating beta, floating *C,
                          int ldc) noexcept nogil:
    # Row-major C (M x N) = op(A) op(B) + beta C. A row-major matrix is the transposed
    # column-major one, so this is the column-major C^T = op(B)^T op(A)^T: swap the
    # operands (and their transpose flags) and the sizes M, N.
    cdef char cta = b'T' if ta else b'N'
    cdef char ctb = b'T' if tb else b'N'
    cdef floating one = 1
    if floating is float:
        sgemm(&ctb, &cta, &N, &M, &K, &one, <float *>B, &ldb, <float *>A, &lda, &beta, C,
              &ldc)
    else:
        dgemm(&ctb, &cta, &N, &M, &K, &one, <double *>B, &ldb, <double *>A, &lda, &beta, C,
              &ldc)


cdef inline void _im2col(const floating *x, int64_t C, int64_t H, int64_t W, int64_t kh,
                         int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                         int64_t Ho, int64_t Wo, floating *col, int64_t ldcol) noexcept nogil:
    if floating is float:
        fastml_im2col_f32(x, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, col, ldcol)
    else:
        fastml_im2col_f64(x, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, col, ldcol)


cdef inline void _col2im(const floating *col, int64_t ldcol, int64_t C, int64_t H, int64_t W,
                         int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                         int64_t pw, int64_t Ho, int64_t Wo, floating *x) noexcept nogil:
    if floating is float:
        fastml_col2im_f32(col, ldcol, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, x)
    else:
        fastml_col2im_f64(col, ldcol, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, x)


cdef inline void _add_bias(const floating *src, int64_t lds, floating *out, int64_t ldo,
                           int64_t nr, int64_t n, const floating *bias) noexcept nogil:
    if floating is float:
        fastml_rows_add_bias_f32(src, lds, out, ldo, nr, n, bias)
    else:
        fastml_rows_add_bias_f64(src, lds, out, ldo, nr, n, bias)


cdef inline void _copy_sum(const floating *src, int64_t lds, floating *dst, int64_t ldd,
                           int64_t nr, int64_t n, double *acc) noexcept nogil:
    if floating is float:
        fastml_rows_copy_sum_f32(src, lds, dst, ldd, nr, n, acc)
    else:
        fastml_rows_copy_sum_f64(src, lds, dst, ldd, nr, n, acc)


def conv_forward(const floating[:, :, :, ::1] x, const floating[:, ::1] w2,
                 const floating[::1] bias, bint has_bias, floating[:, :, :, ::1] out,
                 int kh, int kw, int sh, int sw, int ph, int pw, int n_threads):
    """out[n] = w2 @ im2col(x[n]) (+ bias): x (N, C_in, H, W), w2 (C_out, C_in*kh*kw),
    out (N, C_out, H_out, W_out). BLAS must be capped at one thread by the caller."""
    cdef int64_t N = x.shape[0], Ci = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int64_t Co = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef int64_t P = Ho * Wo, K = Ci * kh * kw
    cdef bint direct = kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0
    cdef int64_t B = plan_tile(N, K, P, sizeof(floating), n_threads, direct)
    cdef int64_t ntiles = (N + B - 1) // B
    n_threads = <int>max(1, min(n_threads, ntiles))  # no idle threads on small batches
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] colbuf = np.empty((n_threads, 1 if direct else K * B * P), dtype)
    cdef floating[:, ::1] ybuf = np.empty((n_threads, Co * B * P if B > 1 else 1), dtype)
    cdef const floating *bp = &bias[0] if has_bias else NULL
    cdef int64_t t, b, n0, nb, tid
    cdef floating *col
    cdef floating *y
    cdef floating zero = 0
    with nogil:
        for t in prange(ntiles, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            n0 = t * B
            nb = min(B, N - n0)
            if direct:
                _gemm_rm(False, False, <int>Co, <int>P, <int>K, &w2[0, 0], <int>K, &x[n0, 0, 0, 0],
                         <int>P, zero, &out[n0, 0, 0, 0], <int>P)
                _add_bias(&out[n0, 0, 0, 0], P, &out[n0, 0, 0, 0], P, Co, P, bp)
                continue
            col = &colbuf[tid, 0]
            for b in range(nb):
                _im2col(&x[n0 + b, 0, 0, 0], Ci, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                        col + b * P, nb * P)
            if nb == 1:
                _gemm_rm(False, False, <int>Co, <int>P, <int>K, &w2[0, 0], <int>K, col, <int>P,
                         zero, &out[n0, 0, 0, 0], <int>P)
                _add_bias(&out[n0, 0, 0, 0], P, &out[n0, 0, 0, 0], P, Co, P, bp)
            else:
                y = &ybuf[tid, 0]
                _gemm_rm(False, False, <int>Co, <int>(nb * P), <int>K, &w2[0, 0], <int>K, col,
                         <int>(nb * P), zero, y, <int>(nb * P))
                for b in range(nb):
                    _add_bias(y + b * P, nb * P, &out[n0 + b, 0, 0, 0], P, Co, P, bp)


def conv_backward(const floating[:, :, :, ::1] gout, const floating[:, :, :, ::1] x,
                  const floating[:, ::1] w2, floating[:, :, :, ::1] dx, bint need_dx,
                  bint need_dw, int kh, int kw, int sh, int sw, int ph, int pw,
                  int n_threads):
    """Gradients of out = conv(x, w2): returns (dw2 or None, db) and fills dx when
    need_dx. gout (N, C_out, H_out, W_out); x and dx (N, C_in, H, W) (only their shape is
    used when not needed); db is sum_{n, p} gout. BLAS capped at one thread by the caller.

    Per tile: gather gout into G (C_out, B*P) while summing db; dw_thread += G col^T
    (col = im2col(x)); dcol = w2^T G into the same col buffer; col2im onto dx.
    Per-thread dw / db partials are summed in thread order at the end; the loop is
    scheduled statically, so each thread's share of tiles (and hence every sum's order) is
    the same from run to run for a given thread count."""
    cdef int64_t N = gout.shape[0], Co = gout.shape[1], Ho = gout.shape[2], Wo = gout.shape[3]
    cdef int64_t Ci = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef int64_t P = Ho * Wo, K = Ci * kh * kw
    cdef bint direct = kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0
    cdef int64_t B = plan_tile(N, K, P, sizeof(floating), n_threads, direct)
    cdef int64_t ntiles = (N + B - 1) // B
    n_threads = <int>max(1, min(n_threads, ntiles))  # no idle threads on small batches
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] colbuf = np.empty(
        (n_threads, 1 if direct else K * B * P), dtype)
    cdef floating[:, ::1] gbuf = np.empty((n_threads, Co * B * P if B > 1 else 1), dtype)
    dw_part = np.zeros((n_threads, Co if need_dw else 1, K if need_dw else 1), dtype)
    db_part = np.zeros((n_threads, Co), np.float64)
    cdef floating[:, :, ::1] dwp = dw_part
    cdef double[:, ::1] dbp = db_part
    cdef int64_t t, b, n0, nb, tid, ldg
    cdef floating *col
    cdef const floating *G
    cdef floating one = 1, zero = 0
    with nogil:
        for t in prange(ntiles, schedule="static", num_threads=n_threads):
            tid = omp_get_thread_num()
            n0 = t * B
            nb = min(B, N - n0)
            ldg = nb * P
            if nb == 1:
                G = &gout[n0, 0, 0, 0]
                _copy_sum(G, P, NULL, 0, Co, P, &dbp[tid, 0])
            else:
                for b in range(nb):
                    _copy_sum(&gout[n0 + b, 0, 0, 0], P, &gbuf[tid, b * P], ldg, Co, P,
                              &dbp[tid, 0])
                G = &gbuf[tid, 0]
            if direct:  # one sample; the image is its own col matrix
                if need_dw:
                    _gemm_rm(False, True, <int>Co, <int>K, <int>P, G, <int>P, &x[n0, 0, 0, 0],
                             <int>P, one, &dwp[tid, 0, 0], <int>K)
                if need_dx:
                    _gemm_rm(True, False, <int>K, <int>P, <int>Co, &w2[0, 0], <int>K, G, <int>P,
                             zero, &dx[n0, 0, 0, 0], <int>P)
                continue
            col = &colbuf[tid, 0]
            if need_dw:
                for b in range(nb):
                    _im2col(&x[n0 + b, 0, 0, 0], Ci, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                            col + b * P, ldg)
                _gemm_rm(False, True, <int>Co, <int>K, <int>ldg, G, <int>ldg, col, <int>ldg,
                         one, &dwp[tid, 0, 0], <int>K)
            if need_dx:
                _gemm_rm(True, False, <int>K, <int>ldg, <int>Co, &w2[0, 0], <int>K, G,
                         <int>ldg, zero, col, <int>ldg)
                for b in range(nb):
                    memset(&dx[n0 + b, 0, 0, 0], 0, Ci * H * W * sizeof(floating))
                    _col2im(col + b * P, ldg, Ci, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                            &dx[n0 + b, 0, 0, 0])
    db = db_part.sum(axis=0)
    dw = dw_part.sum(axis=0) if need_dw else None
    return dw, db


def transpose_backward(const floating[:, :, :, ::1] gout, const floating[:, :, :, ::1] x,
                       const floating[:, ::1] w2, floating[:, :, :, ::1] dx, bint need_dx,
                       int kh, int kw, int sh, int sw, int ph, int pw, int n_threads):
    """Gradients of the transposed convolution out = col2im(w2^T x): with col = im2col(gout)
    per tile, dx = w2 @ col (the convolution of gout) and dw2 += x_tile @ col^T, both from
    the one im2col. gout (N, C_out, Ho, Wo), x and dx (N, C_in, H, W), w2 (C_in, C_out*kh*kw).
    Returns dw2 (summed over the per-thread partials). BLAS capped at one thread by the
    caller."""
    cdef int64_t N = gout.shape[0], Cg = gout.shape[1], Hg = gout.shape[2], Wg = gout.shape[3]
    cdef int64_t Ci = x.shape[1], P = x.shape[2] * x.shape[3], K = Cg * kh * kw
    cdef int64_t B = plan_tile(N, K, P, sizeof(floating), n_threads, False)
    cdef int64_t ntiles = (N + B - 1) // B
    n_threads = <int>max(1, min(n_threads, ntiles))
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] colbuf = np.empty((n_threads, K * B * P), dtype)
    cdef floating[:, ::1] buf = np.empty((n_threads, Ci * B * P if B > 1 else 1), dtype)
    dw_part = np.zeros((n_threads, Ci, K), dtype)
    cdef floating[:, :, ::1] dwp = dw_part
    cdef int64_t t, b, n0, nb, tid, ld
    cdef floating *col
    cdef floating *y
    cdef const floating *G
    cdef floating one = 1, zero = 0
    with nogil:
        for t in prange(ntiles, schedule="static", num_threads=n_threads):
            tid = omp_get_thread_num()
            n0 = t * B
            nb = min(B, N - n0)
            ld = nb * P
            col = &colbuf[tid, 0]
            for b in range(nb):
                _im2col(&gout[n0 + b, 0, 0, 0], Cg, Hg, Wg, kh, kw, sh, sw, ph, pw,
                        x.shape[2], x.shape[3], col + b * P, ld)
            y = &buf[tid, 0]
            if nb == 1:
                G = &x[n0, 0, 0, 0]
            else:
                for b in range(nb):
                    _copy_sum(&x[n0 + b, 0, 0, 0], P, y + b * P, ld, Ci, P, NULL)
                G = y
            _gemm_rm(False, True, <int>Ci, <int>K, <int>ld, G, <int>ld, col, <int>ld, one,
                     &dwp[tid, 0, 0], <int>K)
            if need_dx:
                if nb == 1:
                    _gemm_rm(False, False, <int>Ci, <int>P, <int>K, &w2[0, 0], <int>K, col,
                             <int>P, zero, &dx[n0, 0, 0, 0], <int>P)
                else:  # x's copy in y is consumed: reuse y for the product
                    _gemm_rm(False, False, <int>Ci, <int>ld, <int>K, &w2[0, 0], <int>K, col,
                             <int>ld, zero, y, <int>ld)
                    for b in range(nb):
                        _add_bias(y + b * P, ld, &dx[n0 + b, 0, 0, 0], P, Ci, P, NULL)
    return dw_part.sum(axis=0)


# ----------------------------------------------------------------------------------------
# Direct convolution at stride 1 (csrc/nn_conv.c): for few channels, where the GEMM
# operands are too thin for BLAS to run at speed. One sample per OpenMP iteration; the
# padded sample, the flat output / gradient block and the weight-gradient accumulators
# are per-thread buffers allocated before the loop.
# ----------------------------------------------------------------------------------------
cdef int64_t VPAD = 16  # the longest vector (float32) in values
cdef int64_t FB = FASTML_NN_FLAT_BLOCK


cdef inline int64_t _round_up(int64_t n, int64_t m) noexcept nogil:
    return (n + m - 1) // m * m


def aligned_empty(shape, dtype, zero=False):
    """An array of the given shape whose rows (last axis) start on 64-byte boundaries:
    the vector loops then load and store whole cache lines (an unaligned 64-byte access
    touches two)."""
    # (no negative indices: this module is compiled with wraparound=False)
    dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    lead, last = shape[:len(shape) - 1], shape[len(shape) - 1]
    row = _round_up(last, 64 // dtype.itemsize)
    n = int(np.prod(lead, dtype=np.int64)) * row
    raw = (np.zeros if zero else np.empty)(n + 64 // dtype.itemsize, dtype)
    off = ((64 - raw.ctypes.data % 64) % 64) // dtype.itemsize
    return raw[off:off + n].reshape(lead + (row,))[..., :last]


def channel_block(int64_t n, int64_t nflat, int64_t itemsize, bint dw=False):
    """Output channels per kernel call (8, 6, 4, 2 or 1) for n channels: the one with the
    lowest estimated time, i.e. multiply-adds once the channels are padded to whole blocks
    and (forward) the flat length to whole blocks of 16/nc vectors, times a per-FMA cost
    that grows for small blocks (more input loads per FMA; measured on AVX-512). The
    weight-gradient kernel keeps NT = 16/nc tap offsets in registers, so it only uses 8,
    6 or 4 (nflat is then the tap count K)."""
    cdef int64_t V = 64 // itemsize, nc
    cdef double cost, best = 0
    weight = ({8: 1.15, 6: 1.15, 4: 1.0} if dw
              else {8: 1.0, 6: 1.05, 4: 1.05, 2: 1.6, 1: 2.0})
    best_nc = 8
    for nc in weight:
        cost = ((n + nc - 1) // nc * nc * _round_up(nflat, (16 // nc) * (1 if dw else V))
                * weight[nc])
        if best == 0 or cost < best:
            best, best_nc = cost, nc
    return int(best_nc)


def pack_weights(w2, int64_t n_out, int64_t nc):
    """(n_out, K) weights -> (chunks, K, nc), zero-padded to whole chunks of nc."""
    chunks = (n_out + nc - 1) // nc
    K = w2.shape[1]
    wp = np.zeros((chunks * nc, K), dtype=w2.dtype)
    wp[:n_out] = w2
    return np.ascontiguousarray(wp.reshape(chunks, nc, K).transpose(0, 2, 1))


def unpack_weights(wpk, int64_t n_out):
    """Inverse of pack_weights: (chunks, K, nc) -> (n_out, K)."""
    chunks, K, nc = wpk.shape
    return np.ascontiguousarray(wpk.transpose(0, 2, 1).reshape(chunks * nc, K)[:n_out])


cdef inline void _pad(const floating *x, int64_t C, int64_t H, int64_t W, int64_t ph,
                      int64_t pw, int64_t Hp, int64_t Wp, floating *xp) noexcept nogil:
    if floating is float:
        fastml_pad_planes_f32(x, C, H, W, ph, pw, Hp, Wp, xp)
    else:
        fastml_pad_planes_f64(x, C, H, W, ph, pw, Hp, Wp, xp)


cdef void _direct_sample(const floating *x, int64_t C, int64_t H, int64_t W, int64_t ph,
                         int64_t pw, int64_t kh, int64_t kw, const floating *wpk, int nc,
                         int64_t n_out, const floating *bias, floating *xp, floating *obuf,
                         int64_t ldo, floating *out) noexcept nogil:
    """out (n_out, Ho, Wo) = stride-1 convolution of one sample, padded into xp."""
    cdef int64_t Hp = H + 2 * ph, Wp = W + 2 * pw, plane = Hp * Wp
    cdef int64_t Ho = Hp - kh + 1, Wo = Wp - kw + 1, K = C * kh * kw, ch, m
    _pad(x, C, H, W, ph, pw, Hp, Wp, xp)
    memset(xp + C * plane, 0, (kw + FB + VPAD) * sizeof(floating))
    for ch in range((n_out + nc - 1) // nc):
        m = min(nc, n_out - ch * nc)
        if floating is float:
            fastml_direct_fwd_f32(xp, C, plane, Wp, kh, kw, wpk + ch * K * nc, nc, Ho * Wp,
                                  obuf, ldo)
            fastml_unflat_f32(obuf, ldo, m, Ho, Wo, Wp, bias + ch * nc if bias else NULL,
                              out + ch * nc * Ho * Wo)
        else:
            fastml_direct_fwd_f64(xp, C, plane, Wp, kh, kw, wpk + ch * K * nc, nc, Ho * Wp,
                                  obuf, ldo)
            fastml_unflat_f64(obuf, ldo, m, Ho, Wo, Wp, bias + ch * nc if bias else NULL,
                              out + ch * nc * Ho * Wo)


cdef void _direct_dx_wrap(const floating *g, int64_t Co, int64_t Ho, int64_t Wo, int64_t H,
                          int64_t W, int64_t qh, int64_t kh, int64_t kw, const floating *wpk,
                          int nc, int64_t n_in, floating *gp, floating *obuf, int64_t ldo,
                          floating *dx) noexcept nogil:
    """dx (n_in, H, W) of a stride-1 convolution without column padding, as the "full"
    convolution of g on a grid of width W instead of Wo + 2 (kw - 1): each row of g is
    followed by W - Wo = kw - 1 zeros, which also serve as the left padding of the next
    row when the flat index wraps, and gp starts kw - 1 zeros early. Every flat output
    position is then a real dx position (none discarded)."""
    cdef int64_t Hq = Ho + 2 * qh, plane = Hq * W, K = Co * kh * kw, ch, m
    cdef floating *base = gp + (kw - 1)
    memset(gp, 0, (kw - 1) * sizeof(floating))
    _pad(g, Co, Ho, Wo, qh, 0, Hq, W, base)
    memset(base + Co * plane, 0, (kw + FB + VPAD) * sizeof(floating))
    for ch in range((n_in + nc - 1) // nc):
        m = min(nc, n_in - ch * nc)
        if floating is float:
            fastml_direct_fwd_f32(gp, Co, plane, W, kh, kw, wpk + ch * K * nc, nc, H * W,
                                  obuf, ldo)
            fastml_unflat_f32(obuf, ldo, m, H, W, W, NULL, dx + ch * nc * H * W)
        else:
            fastml_direct_fwd_f64(gp, Co, plane, W, kh, kw, wpk + ch * K * nc, nc, H * W,
                                  obuf, ldo)
            fastml_unflat_f64(obuf, ldo, m, H, W, W, NULL, dx + ch * nc * H * W)


def dx_flat_length(int64_t H, int64_t W, int64_t Wo, int64_t kw, int64_t pw):
    """The flat length of the input-gradient loops (to choose their channel block)."""
    return H * W if pw == 0 else H * (Wo + 2 * (kw - 1 - pw))


def direct_forward(const floating[:, :, :, ::1] x, const floating[:, :, ::1] wpk,
                   const floating[::1] bias, bint has_bias, floating[:, :, :, ::1] out,
                   int kh, int kw, int ph, int pw, int n_threads):
    """out = conv(x) at stride 1 with packed weights wpk = pack_weights(w2, C_out, nc)."""
    cdef int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int64_t Co = out.shape[1], Ho = out.shape[2]
    cdef int nc = wpk.shape[2]
    cdef int64_t Hp = H + 2 * ph, Wp = W + 2 * pw
    cdef int64_t ldo = _round_up(Ho * Wp, FB)
    n_threads = <int>max(1, min(n_threads, N))
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, :] xps = aligned_empty((n_threads, C * Hp * Wp + kw + FB + VPAD), dtype)
    cdef floating[:, :] obs = aligned_empty((n_threads, nc * ldo), dtype)
    cdef const floating *bp = &bias[0] if has_bias else NULL
    cdef int64_t n, tid
    with nogil:
        for n in prange(N, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            _direct_sample(&x[n, 0, 0, 0], C, H, W, ph, pw, kh, kw, &wpk[0, 0, 0], nc, Co,
                           bp, &xps[tid, 0], &obs[tid, 0], ldo, &out[n, 0, 0, 0])


DW_TILE_BYTES = 40 * 1024  # stay in L1: every tap block re-reads the whole tile


def direct_backward(const floating[:, :, :, ::1] gout, const floating[:, :, :, ::1] x,
                    const floating[:, :, ::1] wfpk, floating[:, :, :, ::1] dx, bint need_dx,
                    int kh, int kw, int ph, int pw, int n_threads):
    """Stride-1 gradients: returns (dw (C_out, K), db) and fills dx when need_dx.

    dw: per tile of S samples (S padded samples and their flat gradients in per-thread
    buffers of about DW_TILE_BYTES), the correlation kernel accumulates over the tile.
    dx is the "full" convolution of gout (padded by k-1-p) with the flipped, transposed
    weights wfpk = pack_weights(flip(w).T, C_in, nc); needs ph <= kh-1 and pw <= kw-1."""
    cdef int64_t N = gout.shape[0], Co = gout.shape[1], Ho = gout.shape[2], Wo = gout.shape[3]
    cdef int64_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int64_t Hp = H + 2 * ph, Wp = W + 2 * pw, plane = Hp * Wp, K = C * kh * kw
    cdef int64_t ldg = _round_up(Ho * Wp, VPAD)
    cdef int64_t qh = kh - 1 - ph, qw = kw - 1 - pw        # padding of the full convolution
    cdef int64_t Wq = Wo + 2 * qw, Hq = Ho + 2 * qh
    cdef bint wrap = pw == 0                             # see _direct_dx_wrap
    cdef int64_t ldq = _round_up(H * W if wrap else H * Wq, FB)
    cdef int64_t qsize = (kw - 1 + Co * Hq * W if wrap else Co * Hq * Wq) + kw + FB + VPAD
    cdef int nco = channel_block(Co, K, sizeof(floating), True), nci = wfpk.shape[2]
    cdef int64_t chunks = (Co + nco - 1) // nco
    cdef int64_t xstride = _round_up(C * plane + kw + FB + VPAD, VPAD)
    cdef int64_t gstride = nco * ldg
    cdef int64_t S = max(1, min(DW_TILE_BYTES // ((xstride + gstride) * sizeof(floating)),
                                (N + n_threads - 1) // n_threads))
    cdef int64_t ntiles = (N + S - 1) // S
    n_threads = <int>max(1, min(n_threads, ntiles))
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, :] xps = aligned_empty((n_threads, S * xstride), dtype)
    cdef floating[:, :] gbs = aligned_empty((n_threads, S * gstride), dtype)
    cdef floating[:, :] qps = aligned_empty((n_threads, qsize if need_dx else 1), dtype)
    cdef floating[:, :] obs = aligned_empty((n_threads, nci * ldq if need_dx else 1), dtype)
    cdef int64_t VL = 64 // sizeof(floating)   # lanes of the C kernels' vectors
    dw_part = aligned_empty((n_threads, chunks, K, nco, VL), dtype, zero=True)
    db_part = np.zeros((n_threads, chunks * nco), np.float64)
    cdef floating[:, :, :, :, :] dwp = dw_part
    cdef double[:, ::1] dbp = db_part
    cdef int64_t t, n, n0, ns, s, tid, ch, m
    cdef floating *xp
    cdef floating *gb
    with nogil:
        for t in prange(ntiles, schedule="static", num_threads=n_threads):
            tid = omp_get_thread_num()
            xp = &xps[tid, 0]
            gb = &gbs[tid, 0]
            n0 = t * S
            ns = min(S, N - n0)
            for s in range(ns):
                _pad(&x[n0 + s, 0, 0, 0], C, H, W, ph, pw, Hp, Wp, xp + s * xstride)
                memset(xp + s * xstride + C * plane, 0,
                       (xstride - C * plane) * sizeof(floating))
            for ch in range(chunks):
                m = min(nco, Co - ch * nco)
                for s in range(ns):
                    if floating is float:
                        fastml_flat_grad_f32(&gout[n0 + s, ch * nco, 0, 0], m, nco, Ho, Wo,
                                             Wp, gb + s * gstride, ldg, &dbp[tid, ch * nco])
                    else:
                        fastml_flat_grad_f64(&gout[n0 + s, ch * nco, 0, 0], m, nco, Ho, Wo,
                                             Wp, gb + s * gstride, ldg, &dbp[tid, ch * nco])
                if floating is float:
                    fastml_direct_dw_f32(xp, C, plane, Wp, kh, kw, gb, nco, ldg, Ho * Wp, ns,
                                         xstride, gstride, &dwp[tid, ch, 0, 0, 0])
                else:
                    fastml_direct_dw_f64(xp, C, plane, Wp, kh, kw, gb, nco, ldg, Ho * Wp, ns,
                                         xstride, gstride, &dwp[tid, ch, 0, 0, 0])
            if need_dx:
                for s in range(ns):
                    if wrap:
                        _direct_dx_wrap(&gout[n0 + s, 0, 0, 0], Co, Ho, Wo, H, W, qh, kh, kw,
                                        &wfpk[0, 0, 0], nci, C, &qps[tid, 0], &obs[tid, 0],
                                        ldq, &dx[n0 + s, 0, 0, 0])
                    else:
                        _direct_sample(&gout[n0 + s, 0, 0, 0], Co, Ho, Wo, qh, qw, kh, kw,
                                       &wfpk[0, 0, 0], nci, C, NULL, &qps[tid, 0],
                                       &obs[tid, 0], ldq, &dx[n0 + s, 0, 0, 0])
    # Sum the thread partials, then the lanes (a matrix-vector product: numpy's reduction
    # over a short last axis is several times slower).
    dw_lanes = np.add.reduce(dw_part, axis=0).reshape(-1, VL) @ np.ones(VL, dtype)
    return (unpack_weights(dw_lanes.reshape(chunks, K, nco), Co),
            db_part.sum(axis=0)[:Co])
