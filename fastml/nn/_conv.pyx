# distutils: sources = csrc/nn_conv.c
"""Compiled convolution loops of fastml.nn (inputs validated by fastml.nn.functional).

Convolution is computed as GEMM over im2col tiles (Chellapilla et al., 2006): a tile of
``B`` samples is unfolded into a per-thread buffer ``col`` of shape (K, B*P), with
K = C_in*kh*kw and P = H_out*W_out, and multiplied by the (C_out, K) weight matrix with
one BLAS call. Tiles are spread over OpenMP threads; each thread calls a single-threaded
BLAS (the caller caps BLAS at one thread), so the batch loop is the only parallelism.
Buffers are allocated once per call, per thread and per tile, never for the whole batch.
Tiles depend on the shapes only, and every reduction over the batch (weight and bias
gradients) goes through per-tile partial sums added in tile order: results are bitwise
the same for any number of threads.

At stride 1 the direct loops of csrc/nn_conv.c are usually faster (fastml.nn.functional
chooses per shape): register-blocked loops over the padded sample, with image positions
or output channels in the vector lanes, and no im2col copy at all.

Every function assumes C-contiguous arrays of one floating dtype with consistent shapes;
the Python layer guarantees that before calling.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uintptr_t
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

from fastml.utils._openmp_helpers cimport omp_get_thread_num

import numpy as np

from fastml.utils._csrc cimport (
    FASTML_NN_FLAT_BLOCK, fastml_cl_dw_f32, fastml_cl_dw_f64, fastml_cl_fwd_f32,
    fastml_cl_fwd_f64, fastml_cl_pack_f32, fastml_cl_pack_f64, fastml_cl_relu_pool_f32,
    fastml_cl_relu_pool_f64, fastml_cl_unpack_f32, fastml_cl_unpack_f64, fastml_col2im_f32,
    fastml_col2im_f64, fastml_direct_dw_f32, fastml_direct_dw_f64, fastml_direct_fwd_f32,
    fastml_direct_fwd_f64, fastml_flat_grad_f32, fastml_flat_grad_f64,
    fastml_flat_relu_pool_f32, fastml_flat_relu_pool_f64, fastml_gemm_tile_f32,
    fastml_gemm_tile_f64, fastml_im2col_f32, fastml_im2col_f64, fastml_nn_vec_bytes,
    fastml_pad_planes_f32, fastml_pad_planes_f64, fastml_pool_grad_expand_f32,
    fastml_pool_grad_expand_f64, fastml_row_sums_f32, fastml_row_sums_f64,
    fastml_rows_add_bias_f32, fastml_rows_add_bias_f64, fastml_rows_copy_sum_f32,
    fastml_rows_copy_sum_f64, fastml_sp_dx_f32, fastml_sp_dx_f64, fastml_sp_pack_f32,
    fastml_sp_pack_f64, fastml_transpose_pad_f32, fastml_transpose_pad_f64, fastml_unflat_f32,
    fastml_unflat_f64,
)


# Bytes of one im2col tile: small enough to stay in L2 while BLAS reads it.
TILE_BYTES = 1 << 20
# At least this many tiles when the batch allows (work for the threads of most machines).
GEMM_MIN_TILES = 16
# At most this many bytes of weight-gradient partial sums (one slot per tile, or per run
# of consecutive tiles when the slots would not fit).
GEMM_SLOT_BYTES = 64 << 20


def plan_tile(int64_t n_samples, int64_t K, int64_t P, int64_t itemsize, bint direct):
    """Samples per tile: as many as fit TILE_BYTES, but at least GEMM_MIN_TILES tiles
    where the batch allows. ``direct`` (1x1 kernel, stride 1, no padding: the image
    already is the col matrix) means one sample per tile. Depends on the shapes only,
    never on the thread count: a tile's GEMM sums in an order fixed by its size, so the
    results are the same for any number of threads."""
    if direct or n_samples <= 1:
        return 1
    cdef int64_t bmax = max(1, TILE_BYTES // max(1, K * P * itemsize))
    cdef int64_t ntiles = max((n_samples + bmax - 1) // bmax, min(n_samples, GEMM_MIN_TILES))
    return int((n_samples + ntiles - 1) // ntiles)


def plan_slots(int64_t ntiles, int64_t slot_bytes):
    """Weight-gradient slots for ntiles tiles: one per tile, fewer (runs of consecutive
    tiles) when they would exceed GEMM_SLOT_BYTES. Slot s sums tiles
    [s * ntiles // S, (s + 1) * ntiles // S) in order."""
    return int(max(1, min(ntiles, GEMM_SLOT_BYTES // max(1, slot_bytes))))


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
    cdef int64_t B = plan_tile(N, K, P, sizeof(floating), direct)
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

    Per tile: gather gout into G (C_out, B*P) while summing db; dw_slot += G col^T
    (col = im2col(x)); dcol = w2^T G into the same col buffer; col2im onto dx. The tiles
    and the slots (plan_tile, plan_slots) depend on the shapes only; slot s sums its run
    of tiles in order, and the slots are added in order at the end: the same result for
    any number of threads."""
    cdef int64_t N = gout.shape[0], Co = gout.shape[1], Ho = gout.shape[2], Wo = gout.shape[3]
    cdef int64_t Ci = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef int64_t P = Ho * Wo, K = Ci * kh * kw
    cdef bint direct = kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0
    cdef int64_t B = plan_tile(N, K, P, sizeof(floating), direct)
    cdef int64_t ntiles = (N + B - 1) // B
    cdef int64_t S = plan_slots(ntiles, Co * K * sizeof(floating) if need_dw else 0)
    n_threads = <int>max(1, min(n_threads, S))  # no idle threads on small batches
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] colbuf = np.empty(
        (n_threads, 1 if direct else K * B * P), dtype)
    cdef floating[:, ::1] gbuf = np.empty((n_threads, Co * B * P if B > 1 else 1), dtype)
    dw_part = np.zeros((S, Co if need_dw else 1, K if need_dw else 1), dtype)
    db_part = np.zeros((S, Co), np.float64)
    cdef floating[:, :, ::1] dwp = dw_part
    cdef double[:, ::1] dbp = db_part
    cdef int64_t sl, t, b, n0, nb, tid, ldg
    cdef floating *col
    cdef const floating *G
    cdef floating one = 1, zero = 0
    with nogil:
        for sl in prange(S, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            for t in range(sl * ntiles // S, (sl + 1) * ntiles // S):
                n0 = t * B
                nb = min(B, N - n0)
                ldg = nb * P
                if nb == 1:
                    G = &gout[n0, 0, 0, 0]
                    _copy_sum(G, P, NULL, 0, Co, P, &dbp[sl, 0])
                else:
                    for b in range(nb):
                        _copy_sum(&gout[n0 + b, 0, 0, 0], P, &gbuf[tid, b * P], ldg, Co, P,
                                  &dbp[sl, 0])
                    G = &gbuf[tid, 0]
                if direct:  # one sample; the image is its own col matrix
                    if need_dw:
                        _gemm_rm(False, True, <int>Co, <int>K, <int>P, G, <int>P,
                                 &x[n0, 0, 0, 0], <int>P, one, &dwp[sl, 0, 0], <int>K)
                    if need_dx:
                        _gemm_rm(True, False, <int>K, <int>P, <int>Co, &w2[0, 0], <int>K, G,
                                 <int>P, zero, &dx[n0, 0, 0, 0], <int>P)
                    continue
                col = &colbuf[tid, 0]
                if need_dw:
                    for b in range(nb):
                        _im2col(&x[n0 + b, 0, 0, 0], Ci, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                                col + b * P, ldg)
                    _gemm_rm(False, True, <int>Co, <int>K, <int>ldg, G, <int>ldg, col,
                             <int>ldg, one, &dwp[sl, 0, 0], <int>K)
                if need_dx:
                    _gemm_rm(True, False, <int>K, <int>ldg, <int>Co, &w2[0, 0], <int>K, G,
                             <int>ldg, zero, col, <int>ldg)
                    for b in range(nb):
                        memset(&dx[n0 + b, 0, 0, 0], 0, Ci * H * W * sizeof(floating))
                        _col2im(col + b * P, ldg, Ci, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,
                                &dx[n0 + b, 0, 0, 0])
    db = db_part.sum(axis=0)
    dw = np.add.reduce(dw_part, axis=0, dtype=np.float64).astype(dtype) if need_dw else None
    return dw, db


def transpose_backward(const floating[:, :, :, ::1] gout, const floating[:, :, :, ::1] x,
                       const floating[:, ::1] w2, floating[:, :, :, ::1] dx, bint need_dx,
                       int kh, int kw, int sh, int sw, int ph, int pw, int n_threads):
    """Gradients of the transposed convolution out = col2im(w2^T x): with col = im2col(gout)
    per tile, dx = w2 @ col (the convolution of gout) and dw2 += x_tile @ col^T, both from
    the one im2col. gout (N, C_out, Ho, Wo), x and dx (N, C_in, H, W), w2 (C_in, C_out*kh*kw).
    Returns dw2, summed over fixed tiles and slots as in conv_backward. BLAS capped at one
    thread by the caller."""
    cdef int64_t N = gout.shape[0], Cg = gout.shape[1], Hg = gout.shape[2], Wg = gout.shape[3]
    cdef int64_t Ci = x.shape[1], P = x.shape[2] * x.shape[3], K = Cg * kh * kw
    cdef int64_t B = plan_tile(N, K, P, sizeof(floating), False)
    cdef int64_t ntiles = (N + B - 1) // B
    cdef int64_t S = plan_slots(ntiles, Ci * K * sizeof(floating))
    n_threads = <int>max(1, min(n_threads, S))
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] colbuf = np.empty((n_threads, K * B * P), dtype)
    cdef floating[:, ::1] buf = np.empty((n_threads, Ci * B * P if B > 1 else 1), dtype)
    dw_part = np.zeros((S, Ci, K), dtype)
    cdef floating[:, :, ::1] dwp = dw_part
    cdef int64_t sl, t, b, n0, nb, tid, ld
    cdef floating *col
    cdef floating *y
    cdef const floating *G
    cdef floating one = 1, zero = 0
    with nogil:
        for sl in prange(S, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            for t in range(sl * ntiles // S, (sl + 1) * ntiles // S):
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
                         &dwp[sl, 0, 0], <int>K)
                if need_dx:
                    if nb == 1:
                        _gemm_rm(False, False, <int>Ci, <int>P, <int>K, &w2[0, 0], <int>K, col,
                                 <int>P, zero, &dx[n0, 0, 0, 0], <int>P)
                    else:  # x's copy in y is consumed: reuse y for the product
                        _gemm_rm(False, False, <int>Ci, <int>ld, <int>K, &w2[0, 0], <int>K, col,
                                 <int>ld, zero, y, <int>ld)
                        for b in range(nb):
                            _add_bias(y + b * P, ld, &dx[n0 + b, 0, 0, 0], P, Ci, P, NULL)
    return np.add.reduce(dw_part, axis=0, dtype=np.float64).astype(dtype)


# ----------------------------------------------------------------------------------------
# Direct convolution at stride 1 (csrc/nn_conv.c, csrc/nn_conv_lanes.h): for few
# channels, where the GEMM operands are too thin for BLAS to run at speed. Two layouts:
#   "flat" (kind 0): image positions in the vector lanes; the padded sample seen as one
#       flat vector makes the convolution a 1-D correlation (positions past each row's
#       end are computed and discarded). For few output channels (LeNet's first layer).
#   "cl" (kind 1): output channels in the lanes, blocks of L = 64 / itemsize channels
#       (weights packed as pack_weights(w2, C_out, L)): no position is wasted, channels
#       pad to whole blocks. For 16 or more output channels.
# The input gradient has two kernels too: "flat" (kind 0, the full convolution of the
# output gradient as a flat correlation) and "sp" (kind 1, one dx row at a time, row
# positions in the lanes, only the kernel rows that meet the gradient).
# Forward: one sample per OpenMP iteration (each output is one thread's sum, in a fixed
# order). Backward: fixed tiles of samples, independent of the thread count; each tile
# writes its own weight-gradient and bias-gradient partial sums (slots), which are then
# added in tile order, so every result is the same for any number of threads.
# ----------------------------------------------------------------------------------------
cdef int64_t VPAD = 16  # the longest vector (float32) in values
cdef int64_t FB = FASTML_NN_FLAT_BLOCK
cdef int KIND_FLAT = 0
cdef int KIND_CL = 1


def vec_bytes():
    """The vector width in bytes of the kernels this process runs (16, 32 or 64)."""
    return fastml_nn_vec_bytes()


cdef inline int64_t _round_up(int64_t n, int64_t m) noexcept nogil:
    return (n + m - 1) // m * m


cdef floating *_workspace(floating[::1] raw) noexcept nogil:
    """The first 64-byte aligned element of raw (allocated with 64 // itemsize spare)."""
    cdef uintptr_t a = <uintptr_t>&raw[0]
    return <floating *>((a + 63) & ~(<uintptr_t>63))


cdef inline int64_t _lines(int64_t n, int64_t itemsize) noexcept nogil:
    """n values rounded up to whole 64-byte lines."""
    return _round_up(n, 64 // itemsize)


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
    """Output channels per flat-kernel call (8, 6, 4, 2 or 1) for n channels: the one
    with the lowest estimated time, i.e. multiply-adds once the channels are padded to
    whole blocks and (forward) the flat length to whole blocks of 16/nc vectors, times a
    per-FMA cost that grows for small blocks (more input loads per FMA). The
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
    """out (n_out, Ho, Wo) = stride-1 convolution of one sample, padded into xp (flat
    kernels)."""
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
    """The flat length of the flat input-gradient loops (to choose their channel block)."""
    return H * W if pw == 0 else H * (Wo + 2 * (kw - 1 - pw))


def sp_row_width(int64_t W, int64_t kw, int64_t itemsize):
    """Wq, the row length of the sp input-gradient kernel's padded output gradient: kw - 1
    zeros ahead of the row, the row padded to whole 64-byte blocks."""
    return kw - 1 + _round_up(W, 64 // itemsize)


def direct_forward(const floating[:, :, :, ::1] x, const floating[:, :, ::1] wpk,
                   const floating[::1] bias, bint has_bias, floating[:, :, :, ::1] out,
                   int kh, int kw, int ph, int pw, int n_threads, int kind=0,
                   unsigned char[:, :, :, ::1] pos=None, int pool=0):
    """out = conv(x) (+ bias) at stride 1 with packed weights wpk = pack_weights(w2, C_out,
    nc): kind 0 (flat kernels, nc from channel_block) or 1 (channel lanes, nc = L).
    ``bias`` holds chunks * nc values (zeros past C_out, and all zeros without a bias).

    With pool = k > 0 the output is fused with ReLU and k x k max pooling at stride k:
    out is then (N, C_out, Ho // k, Wo // k) and pos (same shape) receives each window's
    offset of its maximum, 255 where the ReLU zeroes it. Returns False when a pooled window
    met a NaN or an infinity (the caller then runs the layers unfused), else True."""
    cdef int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int64_t Co = out.shape[1]
    cdef int nc = wpk.shape[2]
    cdef int64_t chunks = wpk.shape[0], K = wpk.shape[1]
    cdef int64_t Hp = H + 2 * ph, Wp = W + 2 * pw, plane = Hp * Wp
    cdef int64_t Ho = Hp - kh + 1, Wo = Wp - kw + 1, P = Ho * Wo
    cdef int64_t Hq = out.shape[2], Wq = out.shape[3]
    cdef int64_t ldo = _round_up(Ho * Wp, FB)
    cdef int64_t obsize = nc * ldo if kind == KIND_FLAT else 2 * P * nc  # cl: 2 blocks
    n_threads = <int>max(1, min(n_threads, N))
    dtype = np.float32 if floating is float else np.float64
    # per thread: the padded sample, and the output block (flat rows are read up to two
    # vectors past the last one by the pooling epilogue); one allocation for all
    cdef int64_t isz = sizeof(floating)
    cdef int64_t xsz = _lines(C * plane + kw + FB + VPAD, isz)
    cdef int64_t osz = _lines(obsize + 2 * VPAD, isz)
    cdef floating[::1] raw = np.empty(n_threads * (xsz + osz) + 64 // isz, dtype)
    cdef floating *ws = _workspace(raw)
    cdef unsigned char[::1] okb = np.ones(n_threads, np.uint8)
    cdef const floating *bp = &bias[0]
    cdef int64_t n, tid, ch, m
    cdef int ok
    cdef floating *xp
    cdef floating *ob
    cdef floating *yb
    with nogil:
        for n in prange(N, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            xp = ws + tid * (xsz + osz)
            ob = xp + xsz
            _pad(&x[n, 0, 0, 0], C, H, W, ph, pw, Hp, Wp, xp)
            memset(xp + C * plane, 0, (kw + FB + VPAD) * sizeof(floating))
            for ch in range(chunks):
                m = min(nc, Co - ch * nc)
                if kind == KIND_CL:
                    if ch % 2 == 0:  # two channel blocks per pass over the sample
                        if floating is float:
                            fastml_cl_fwd_f32(xp, C, Hp, Wp, kh, kw, &wpk[ch, 0, 0], K * nc,
                                              min(2, chunks - ch), Ho, Wo, ob, P * nc)
                        else:
                            fastml_cl_fwd_f64(xp, C, Hp, Wp, kh, kw, &wpk[ch, 0, 0], K * nc,
                                              min(2, chunks - ch), Ho, Wo, ob, P * nc)
                    yb = ob + (ch % 2) * P * nc
                    if pool:
                        if floating is float:
                            ok = fastml_cl_relu_pool_f32(yb, Wo, m, bp + ch * nc, pool, Hq,
                                                         Wq, &out[n, ch * nc, 0, 0],
                                                         &pos[n, ch * nc, 0, 0])
                        else:
                            ok = fastml_cl_relu_pool_f64(yb, Wo, m, bp + ch * nc, pool, Hq,
                                                         Wq, &out[n, ch * nc, 0, 0],
                                                         &pos[n, ch * nc, 0, 0])
                        if not ok:
                            okb[tid] = 0
                    elif floating is float:
                        fastml_cl_unpack_f32(yb, P, m, bp + ch * nc if has_bias else NULL,
                                             &out[n, ch * nc, 0, 0])
                    else:
                        fastml_cl_unpack_f64(yb, P, m, bp + ch * nc if has_bias else NULL,
                                             &out[n, ch * nc, 0, 0])
                else:
                    if floating is float:
                        fastml_direct_fwd_f32(xp, C, plane, Wp, kh, kw, &wpk[ch, 0, 0], nc,
                                              Ho * Wp, ob, ldo)
                    else:
                        fastml_direct_fwd_f64(xp, C, plane, Wp, kh, kw, &wpk[ch, 0, 0], nc,
                                              Ho * Wp, ob, ldo)
                    if pool:
                        if floating is float:
                            ok = fastml_flat_relu_pool_f32(ob, ldo, m, Wp, bp + ch * nc, pool,
                                                           Hq, Wq, &out[n, ch * nc, 0, 0],
                                                           &pos[n, ch * nc, 0, 0])
                        else:
                            ok = fastml_flat_relu_pool_f64(ob, ldo, m, Wp, bp + ch * nc, pool,
                                                           Hq, Wq, &out[n, ch * nc, 0, 0],
                                                           &pos[n, ch * nc, 0, 0])
                        if not ok:
                            okb[tid] = 0
                    elif floating is float:
                        fastml_unflat_f32(ob, ldo, m, Ho, Wo, Wp,
                                          bp + ch * nc if has_bias else NULL,
                                          &out[n, ch * nc, 0, 0])
                    else:
                        fastml_unflat_f64(ob, ldo, m, Ho, Wo, Wp,
                                          bp + ch * nc if has_bias else NULL,
                                          &out[n, ch * nc, 0, 0])
    return bool(np.all(np.asarray(okb)))


# Tiles of the backward pass: about this many bytes of padded input and gradient per
# tile (the weight-gradient kernels re-read a tile once per block of taps, several
# vectors per few multiply-adds: it should stay in the L1 cache), at least MIN_TILES
# tiles when the batch allows (work for the threads of most machines), and at most
# SLOT_BYTES of partial sums in all.
DW_TILE_BYTES = 40 * 1024
MIN_TILES = 32
SLOT_BYTES = 64 << 20


def backward_tiles(int64_t N, int64_t sample_bytes, int64_t slot_bytes):
    """Samples per tile of the direct backward pass. Depends on the shapes only, never on
    the thread count: the tiles fix the order of every sum."""
    cdef int64_t ts = max(1, DW_TILE_BYTES // max(1, sample_bytes))
    ts = min(ts, max(1, (N + MIN_TILES - 1) // MIN_TILES))
    cdef int64_t max_tiles = max(1, SLOT_BYTES // max(1, slot_bytes))
    if (N + ts - 1) // ts > max_tiles:
        ts = (N + max_tiles - 1) // max_tiles
    return int(ts)


def direct_backward(const floating[:, :, :, ::1] gsrc, const unsigned char[:, :, :, ::1] pos,
                    const floating[:, :, :, ::1] x, const floating[::1] wdx, int nci,
                    floating[:, :, :, ::1] dx, bint need_dx, int kh, int kw, int ph, int pw,
                    int Co, int pool, int dw_kind, int nco, int dx_kind, int n_threads):
    """Stride-1 gradients: returns (dw (C_out, K), db (float64)) and fills dx when need_dx.

    gsrc is the output gradient (N, C_out, Ho, Wo), or with pool = k > 0 the gradient of
    the fused ReLU + max-pool output with its positions pos (direct_forward): expanded
    per sample into the output gradient.

    dw: dw_kind 1 (channel lanes, blocks of L) or 0 (flat kernels, blocks of nco); per
    tile of samples (backward_tiles), the kernel accumulates the tile into the tile's own
    slot. dx: dx_kind 1 (sp rows: wdx = w.transpose(0, 2, 3, 1) flattened, [co][ki][kj][ci])
    or 0 (flat: the full convolution of the gradient with wdx = pack_weights(flipped,
    transposed w, C_in, nci) flattened; needs ph <= kh-1 and pw <= kw-1)."""
    cdef int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int64_t Hp = H + 2 * ph, Wp = W + 2 * pw, plane = Hp * Wp, K = C * kh * kw
    cdef int64_t Ho = Hp - kh + 1, Wo = Wp - kw + 1, P = Ho * Wo, CoP = Co * P
    cdef int64_t Hq = gsrc.shape[2], Wq = gsrc.shape[3]
    cdef int64_t itemsize = sizeof(floating)
    cdef int64_t L = 64 // itemsize, VL = 64 // itemsize
    cdef int64_t nb = (Co + L - 1) // L if dw_kind == KIND_CL else (Co + nco - 1) // nco
    cdef int64_t ldg = _round_up(Ho * Wp, VPAD)
    cdef int64_t xstride = _round_up(C * plane + kw + FB + VPAD, VPAD)
    cdef int64_t gstride = P * L if dw_kind == KIND_CL else nco * ldg
    # input gradient buffers: sp rows, or the flat full convolution (see _direct_dx_wrap)
    cdef int64_t Wsq = sp_row_width(W, kw, itemsize)
    cdef int64_t qh = kh - 1 - ph, qw = kw - 1 - pw
    cdef int64_t Wfq = Wo + 2 * qw, Hfq = Ho + 2 * qh
    cdef bint wrap = pw == 0
    cdef int64_t ldq = _round_up(H * W if wrap else H * Wfq, FB)
    cdef int64_t qsize, osize = 1
    if dx_kind == KIND_CL:
        qsize = Co * Ho * Wsq
    else:
        qsize = (kw - 1 + Co * Hfq * W if wrap else Co * Hfq * Wfq) + kw + FB + VPAD
        osize = nci * ldq
    # a tile's weight gradient: accumulated by the kernel in a per-thread buffer (with
    # the flat kernels' VL lanes), then added up in float64 into the tile's slot
    cdef int64_t acc = nb * K * (L if dw_kind == KIND_CL else nco * VL)
    cdef int64_t slot = nb * K * (L if dw_kind == KIND_CL else nco)
    cdef int64_t ts = backward_tiles(N, (xstride + gstride + (CoP if pool else 0)) * itemsize,
                                     slot * 8)
    cdef int64_t ntiles = (N + ts - 1) // ts
    n_threads = <int>max(1, min(n_threads, ntiles))
    dtype = np.float32 if floating is float else np.float64
    # per thread: the tile's padded samples, its gradients in the dw kernel's layout, its
    # expanded output gradients (fused step), the dx kernel's buffers; one allocation
    cdef int64_t xsz = _lines(ts * xstride, itemsize), gsz = _lines(ts * gstride, itemsize)
    cdef int64_t fsz = _lines(ts * CoP + 2 * VPAD, itemsize) if pool else 0  # + slack
    cdef int64_t qsz = _lines(qsize, itemsize) if need_dx else 0
    cdef int64_t osz = _lines(osize, itemsize) if need_dx else 0
    cdef int64_t asz = _lines(acc, itemsize)
    cdef int64_t per = xsz + gsz + fsz + qsz + osz + asz
    cdef floating[::1] raw = np.empty(n_threads * per + 64 // itemsize, dtype)
    cdef floating *ws = _workspace(raw)
    dw_slots = np.empty((ntiles, slot), np.float64)
    db_slots = np.zeros((ntiles, Co), np.float64)
    cdef double[:, ::1] dws = dw_slots
    cdef double[:, ::1] dbs = db_slots
    cdef int64_t t, n0, ns, s, tid, b, m, i, l
    cdef double h
    cdef floating *da
    cdef floating *xp
    cdef floating *gb
    cdef floating *gf
    cdef floating *qp
    cdef floating *op
    cdef const floating *g
    with nogil:
        for t in prange(ntiles, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            xp = ws + tid * per
            gb = xp + xsz
            gf = gb + gsz
            qp = gf + fsz
            op = qp + qsz
            da = op + osz
            memset(da, 0, acc * sizeof(floating))
            n0 = t * ts
            ns = min(ts, N - n0)
            for s in range(ns):
                _pad(&x[n0 + s, 0, 0, 0], C, H, W, ph, pw, Hp, Wp, xp + s * xstride)
                memset(xp + s * xstride + C * plane, 0,
                       (xstride - C * plane) * sizeof(floating))
                if pool:
                    if floating is float:
                        fastml_pool_grad_expand_f32(&gsrc[n0 + s, 0, 0, 0],
                                                    &pos[n0 + s, 0, 0, 0], Co, Ho, Wo, pool,
                                                    Hq, Wq, gf + s * CoP)
                    else:
                        fastml_pool_grad_expand_f64(&gsrc[n0 + s, 0, 0, 0],
                                                    &pos[n0 + s, 0, 0, 0], Co, Ho, Wo, pool,
                                                    Hq, Wq, gf + s * CoP)
                    g = <const floating *>(gf + s * CoP)
                else:
                    g = &gsrc[n0 + s, 0, 0, 0]
                if floating is float:
                    fastml_row_sums_f32(g, Co, P, &dbs[t, 0])
                else:
                    fastml_row_sums_f64(g, Co, P, &dbs[t, 0])
            for b in range(nb):
                if dw_kind == KIND_CL:
                    m = min(L, Co - b * L)
                    for s in range(ns):
                        g = <const floating *>(gf + s * CoP) if pool else &gsrc[n0 + s, 0, 0, 0]
                        if floating is float:
                            fastml_cl_pack_f32(g + b * L * P, P, m, gb + s * gstride)
                        else:
                            fastml_cl_pack_f64(g + b * L * P, P, m, gb + s * gstride)
                    if floating is float:
                        fastml_cl_dw_f32(xp, xstride, gb, gstride, ns, C, Hp, Wp, kh, kw,
                                         Ho, Wo, da + b * K * L)
                    else:
                        fastml_cl_dw_f64(xp, xstride, gb, gstride, ns, C, Hp, Wp, kh, kw,
                                         Ho, Wo, da + b * K * L)
                else:
                    m = min(nco, Co - b * nco)
                    for s in range(ns):
                        g = <const floating *>(gf + s * CoP) if pool else &gsrc[n0 + s, 0, 0, 0]
                        if floating is float:
                            fastml_flat_grad_f32(g + b * nco * P, m, nco, Ho, Wo, Wp,
                                                 gb + s * gstride, ldg, NULL)
                        else:
                            fastml_flat_grad_f64(g + b * nco * P, m, nco, Ho, Wo, Wp,
                                                 gb + s * gstride, ldg, NULL)
                    if floating is float:
                        fastml_direct_dw_f32(xp, C, plane, Wp, kh, kw, gb, nco, ldg, Ho * Wp,
                                             ns, xstride, gstride, da + b * K * nco * VL)
                    else:
                        fastml_direct_dw_f64(xp, C, plane, Wp, kh, kw, gb, nco, ldg, Ho * Wp,
                                             ns, xstride, gstride, da + b * K * nco * VL)
            # the tile's sums into its slot, in float64 (the flat kernels' lanes in order)
            if dw_kind == KIND_CL:
                for i in range(slot):
                    dws[t, i] = da[i]
            else:
                for i in range(slot):
                    h = 0
                    for l in range(VL):
                        h = h + da[i * VL + l]
                    dws[t, i] = h
            if need_dx:
                for s in range(ns):
                    g = <const floating *>(gf + s * CoP) if pool else &gsrc[n0 + s, 0, 0, 0]
                    if dx_kind == KIND_CL:
                        if floating is float:
                            fastml_sp_pack_f32(g, Co, Ho, Wo, kw - 1 - pw, Wsq, qp)
                            fastml_sp_dx_f32(qp, Co, Ho, Wsq, ph, kh, kw, &wdx[0],
                                             C, H, W, &dx[n0 + s, 0, 0, 0])
                        else:
                            fastml_sp_pack_f64(g, Co, Ho, Wo, kw - 1 - pw, Wsq, qp)
                            fastml_sp_dx_f64(qp, Co, Ho, Wsq, ph, kh, kw, &wdx[0],
                                             C, H, W, &dx[n0 + s, 0, 0, 0])
                    elif wrap:
                        _direct_dx_wrap(g, Co, Ho, Wo, H, W, qh, kh, kw, &wdx[0], nci, C,
                                        qp, op, ldq, &dx[n0 + s, 0, 0, 0])
                    else:
                        _direct_sample(g, Co, Ho, Wo, qh, qw, kh, kw, &wdx[0], nci, C, NULL,
                                       qp, op, ldq, &dx[n0 + s, 0, 0, 0])
    # The tiles' partial sums in tile order.
    db = db_slots.sum(axis=0)
    dwf = dw_slots.sum(axis=0)
    dw = unpack_weights(dwf.reshape(nb, K, L if dw_kind == KIND_CL else nco), Co)
    return dw.astype(dtype), db


# ----------------------------------------------------------------------------------------
# Dense layers: C = op(A) B in tasks of GEMM_ROWS rows x GEMM_COL_BYTES of columns of C,
# spread over the OpenMP threads, each computed whole by the register-blocked tiles of
# csrc/nn_conv.c: every sum over k by one thread, in order, whatever the tasks, so the
# result is the same for any thread count. No BLAS call, so no BLAS thread pool meets
# OpenMP's.
# ----------------------------------------------------------------------------------------
cdef int64_t GEMM_ROWS = 24
# Columns per task: a multiple of every level's register block width (64 bytes at avx2,
# 256 at avx512), so that only the last task of a row has a partial block.
cdef int64_t GEMM_COL_BYTES = 256
# Multiply-adds per thread below which fewer threads run (a parallel region costs more
# than it saves on the small GEMMs of narrow layers).
cdef int64_t GEMM_THREAD_WORK = 1 << 20


def gemm_rows(const floating[:, ::1] A, bint trans_a, const floating[:, ::1] B, int64_t n,
              floating[:, ::1] C, const floating[::1] bias, bint has_bias, bint relu,
              int n_threads):
    """C (M, n) = op(A) @ B[:, :n] (+ bias) (then max(., 0) when relu). op(A) is A (M, K)
    or, with trans_a, the transpose of A (K, M); K is B's row count (A, not transposed,
    may be wider: its columns past K are not read). B (K, ldb) has its rows readable past
    column n to a whole number of 64-byte lines (the caller pads)."""
    cdef int64_t M = C.shape[0], K = B.shape[0]
    cdef int64_t lda = A.shape[1], ldb = B.shape[1], ldc = C.shape[1]
    cdef int64_t item = sizeof(floating)
    cdef int64_t sai = 1 if trans_a else lda
    cdef int64_t sak = lda if trans_a else 1
    cdef int64_t cw = GEMM_COL_BYTES // item
    cdef int64_t nrt = (M + GEMM_ROWS - 1) // GEMM_ROWS, nct = max(1, (n + cw - 1) // cw)
    cdef int64_t ntasks = nrt * nct, t, i0, m, j0, nc, i, j
    cdef const floating *bp = &bias[0] if has_bias else NULL
    cdef floating *c
    if M == 0 or n == 0:
        return
    n_threads = <int>max(1, min(n_threads, ntasks, M * n * K // GEMM_THREAD_WORK))
    with nogil:
        for t in prange(ntasks, schedule="dynamic", num_threads=n_threads):
            i0 = (t // nct) * GEMM_ROWS
            m = min(GEMM_ROWS, M - i0)
            j0 = (t % nct) * cw
            nc = min(cw, n - j0)
            if floating is float:
                fastml_gemm_tile_f32(m, nc, K, &A[0, 0] + i0 * sai, sai, sak, &B[0, 0] + j0,
                                     ldb, &C[0, 0] + i0 * ldc + j0, ldc, 0)
            else:
                fastml_gemm_tile_f64(m, nc, K, &A[0, 0] + i0 * sai, sai, sak, &B[0, 0] + j0,
                                     ldb, &C[0, 0] + i0 * ldc + j0, ldc, 0)
            if has_bias or relu:
                for i in range(i0, i0 + m):
                    c = &C[0, 0] + i * ldc
                    for j in range(j0, j0 + nc):
                        if has_bias:
                            c[j] = c[j] + bp[j]
                        if relu and c[j] < 0:  # max(c, 0); NaN stays NaN
                            c[j] = 0


def dense_grad_rows(const floating[:, ::1] grad, const floating[:, ::1] out, bint relu,
                    floating[:, ::1] G, bint write, double[::1] db):
    """The output gradient of a dense layer ready for its two GEMMs, in one pass: with
    relu, the gradient of ReLU(out) (grad where out > 0, else 0: no gradient through a
    zeroed unit, even an infinite or NaN one); when write, that into G's first M columns
    and zeros into the rest of each row (G's padding, read by the GEMM tiles); db[j] the
    sum over rows of column j, in float64, rows in order."""
    cdef int64_t N = grad.shape[0], M = grad.shape[1], ld = G.shape[1], i, j
    cdef floating v
    with nogil:
        for j in range(M):
            db[j] = 0
        for i in range(N):
            for j in range(M):
                v = grad[i, j]
                if relu and not out[i, j] > 0:
                    v = 0
                if write:
                    G[i, j] = v
                db[j] = db[j] + v
            if write:
                for j in range(M, ld):
                    G[i, j] = 0


def transpose_padded(const floating[:, ::1] W, floating[:, ::1] Wt):
    """Wt[:, :n] = W.T and zeros in Wt's other columns: W (n, K), Wt (K, ld), ld >= n (the
    B of a GEMM with W's transpose, its rows padded as gemm_rows reads them)."""
    cdef int64_t n = W.shape[0], K = W.shape[1]
    with nogil:
        if floating is float:
            fastml_transpose_pad_f32(&W[0, 0], n, K, K, &Wt[0, 0], Wt.shape[1])
        else:
            fastml_transpose_pad_f64(&W[0, 0], n, K, K, &Wt[0, 0], Wt.shape[1])
