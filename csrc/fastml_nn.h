/* Inner loops of fastml.nn (no Python API): im2col / col2im for convolution as GEMM,
 * and per-plane pooling kernels. Layout is NCHW, one (H, W) plane or one sample's
 * (C, H, W) block at a time; the callers (fastml/nn/_conv.pyx, _pool.pyx) run them in
 * OpenMP loops over samples / planes and validate every size beforehand.
 *
 * Geometry (per spatial axis): an image of size n, kernel f, stride s, zero padding p
 * gives m = (n + 2p - f) / s + 1 outputs; output o reads inputs o*s - p + k, k < f.
 *
 * im2col writes, for one sample x (C, H, W), the matrix
 *     col[(c*kh + ki)*kw + kj, oh*Wo + ow] = x[c, oh*sh - ph + ki, ow*sw - pw + kj]
 * (0 outside the image) as rows of Ho*Wo values at col + row*ldcol, so several samples
 * can share one col tile side by side (ldcol = samples * Ho*Wo). col2im is its adjoint:
 * it ADDS each col entry back onto the x position it came from (x zeroed by the caller).
 */
#ifndef FASTML_NN_H
#define FASTML_NN_H
#include <stdint.h>

#include "fastml_kernels.h"

#define FASTML_NN_DECLARE(T, SFX)                                                          \
    extern void fastml_im2col_##SFX(const T *x, int64_t C, int64_t H, int64_t W, int64_t kh,      \
                             int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,   \
                             int64_t Ho, int64_t Wo, T *col, int64_t ldcol);               \
    extern void fastml_col2im_##SFX(const T *col, int64_t ldcol, int64_t C, int64_t H, int64_t W, \
                             int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,   \
                             int64_t pw, int64_t Ho, int64_t Wo, T *x);                    \
    /* out[r, j] = src[r, j] + (bias ? bias[r] : 0), rows r < nr of length n */            \
    extern void fastml_rows_add_bias_##SFX(const T *src, int64_t lds, T *out, int64_t ldo,        \
                                    int64_t nr, int64_t n, const T *bias);                 \
    /* dst[r, j] = src[r, j]; acc[r] += sum_j src[r, j] (acc may be NULL) */               \
    extern void fastml_rows_copy_sum_##SFX(const T *src, int64_t lds, T *dst, int64_t ldd,        \
                                    int64_t nr, int64_t n, double *acc);                   \
    /* max pooling of one plane: out and argmax (flat index into the plane) */             \
    extern void fastml_maxpool_plane_##SFX(const T *x, int64_t H, int64_t W, int64_t kh,          \
                                    int64_t kw, int64_t sh, int64_t sw, int64_t ph,        \
                                    int64_t pw, int64_t Ho, int64_t Wo, T *out,            \
                                    int64_t *argmax);                                      \
    /* dx (H*W, overwritten) from the gradient of the no outputs and their argmax */       \
    extern void fastml_maxpool_bwd_plane_##SFX(const T *g, const int64_t *argmax, int64_t no,     \
                                        T *dx, int64_t hw);                                \
    extern void fastml_avgpool_plane_##SFX(const T *x, int64_t H, int64_t W, int64_t kh,          \
                                    int64_t kw, int64_t sh, int64_t sw, int64_t ph,        \
                                    int64_t pw, int64_t Ho, int64_t Wo, int include_pad,   \
                                    T *out);                                               \
    extern void fastml_avgpool_bwd_plane_##SFX(const T *g, int64_t H, int64_t W, int64_t kh,      \
                                        int64_t kw, int64_t sh, int64_t sw, int64_t ph,    \
                                        int64_t pw, int64_t Ho, int64_t Wo,                \
                                        int include_pad, T *dx);                           \
    /* global pooling of one plane of n values */                                          \
    extern T fastml_plane_mean_##SFX(const T *x, int64_t n);                                      \
    extern T fastml_plane_max_##SFX(const T *x, int64_t n, int64_t *argmax);                      \
    extern void fastml_plane_fill_##SFX(T *x, int64_t n, T v);

FASTML_NN_DECLARE(float, f32)
FASTML_NN_DECLARE(double, f64)



/* ------------------------------------------------------------------------------------
 * Direct convolution at stride 1 (for few channels, where GEMM tiles are too thin).
 *
 * The padded sample xp holds C planes of Hp x Wp (plane = Hp*Wp values apart). Seen
 * flat, the convolution output at f = oh*Wp + ow is
 *     sum_{c, ki, kj} w[c, ki, kj] * xp[c*plane + ki*Wp + kj + f],
 * a 1-D correlation; positions with ow >= Wo are computed and discarded. The kernels take
 * nc (8, 6, 4, 2 or 1) output channels at once, weights packed as wpk[tap*nc + j],
 * tap = (c*kh + ki)*kw + kj, zero for missing channels. The loops run past nflat to
 * whole blocks of FASTML_NN_FLAT_BLOCK values: after the last plane xp needs at least
 * kw + FASTML_NN_FLAT_BLOCK + 16 readable values, and ldo >= nflat rounded up to a block.
 *   fwd: obuf[j*ldo + f] = sum_tap wpk[tap*nc + j] * xp[off(tap) + f], f < nflat
 *   dw:  dwacc[(tap*nc + j)*VL + l] += sum_{f = l mod VL} g[j*ldg + f] * xp[off(tap) + f]
 *        over f < nflat, VL = 64 / sizeof(T) lanes (summed over l by the caller), and over
 *        ns samples at xp + s*xstride, g + s*gstride; g is zero at discarded positions
 *        and up to the rounded length
 * ------------------------------------------------------------------------------------ */
#define FASTML_NN_FLAT_BLOCK 256 /* 16 vectors of 16 floats */
#define FASTML_NN_DECLARE_DIRECT(T, SFX)                                                   \
    extern void fastml_direct_fwd_##SFX(const T *xp, int64_t C, int64_t plane, int64_t Wp,        \
                                 int64_t kh, int64_t kw, const T *wpk, int nc,             \
                                 int64_t nflat, T *obuf, int64_t ldo);                     \
    extern void fastml_direct_dw_##SFX(const T *xp, int64_t C, int64_t plane, int64_t Wp,         \
                                int64_t kh, int64_t kw, const T *g, int nc, int64_t ldg,   \
                                int64_t nflat, int64_t ns, int64_t xstride,                \
                                int64_t gstride, T *dwacc);                                \
    /* xp[c*plane + (ih+ph)*Wp + iw+pw] = x[c, ih, iw], zero elsewhere */                  \
    extern void fastml_pad_planes_##SFX(const T *x, int64_t C, int64_t H, int64_t W, int64_t ph,  \
                                 int64_t pw, int64_t Hp, int64_t Wp, T *xp);               \
    /* out[j, oh, ow] = obuf[j*ldo + oh*Wp + ow] + (bias ? bias[j] : 0), j < nc */         \
    extern void fastml_unflat_##SFX(const T *obuf, int64_t ldo, int64_t nc, int64_t Ho,           \
                             int64_t Wo, int64_t Wp, const T *bias, T *out);               \
    /* g[j*ldg + oh*Wp + ow] = gout[j, oh, ow] (zero for ow >= Wo and up to ldg, a      \
     * multiple of 64 bytes), j < nc, rows nc..nrows-1 zero; acc[j] += sum gout[j] (acc   \
     * may be NULL) */                                                                     \
    extern void fastml_flat_grad_##SFX(const T *gout, int64_t nc, int64_t nrows, int64_t Ho,      \
                                int64_t Wo, int64_t Wp, T *g, int64_t ldg, double *acc);

FASTML_NN_DECLARE_DIRECT(float, f32)
FASTML_NN_DECLARE_DIRECT(double, f64)

/* ------------------------------------------------------------------------------------
 * Channel-lane and row kernels at stride 1 (csrc/nn_conv_lanes.h). A channel block holds
 * L = 64 / sizeof(T) channels (16 float, 8 double); "[P][L]" is a sample's block of
 * P = Ho*Wo output positions (row-major), L channels each, zero for missing channels.
 *   cl_fwd:  y[P][L] = the convolution of the padded sample xp (C planes Hp x Wp) with
 *            the block's packed weights wq[tap][L], tap = (c*kh + ki)*kw + kj, for nb (1
 *            or 2) blocks, weights wstride and outputs ystride apart
 *   cl_dw:   dwacc[tap][L] += sum over ns samples (xs + s*xstride, g + s*gstride, g in
 *            [P][L]) and positions of g[p][l] * xs[off(tap) + oh*Wp + ow]
 *   sp_dx:   dx (Ci, H, W) of a stride-1 convolution with padding (ph, *): gq holds the
 *            output gradient as Co*Ho rows of Wq values, row r's values at columns
 *            [kw-1-pw, kw-1-pw+Wo), zero elsewhere, Wq >= kw-1 + W rounded up to whole
 *            vectors (fastml_sp_pack); wd[co][ki][kj][ci] are the weights
 *   cl_unpack / cl_pack: [P][L] <-> m channel planes of P values (+ bias on unpack)
 *   row_sums: acc[j] += sum of row j (m rows of n): vector lanes, then the lanes in order
 *   *_relu_pool: bias, ReLU and k x k max pooling at stride k of the convolution output
 *            ([P][L] block, overwritten, or the flat rows of fastml_direct_fwd at ldo apart), giving
 *            the pooled planes (m, Hq, Wq) and the window offset of each maximum (255
 *            when the ReLU zeroes it); return 0 if a window held a NaN or an infinity
 *            (flat: obuf must be readable 2 vectors past its last row)
 *   pool_grad_expand: the gradient of the convolution output (m, Ho, Wo) from the pooled
 *            gradient and those positions (g followed by 128 writable bytes)
 * ------------------------------------------------------------------------------------ */
#define FASTML_NN_DECLARE_LANES(T, SFX)                                                    \
    extern void fastml_cl_fwd_##SFX(const T *xp, int64_t C, int64_t Hp, int64_t Wp,        \
                                    int64_t kh, int64_t kw, const T *wq, int64_t wstride,  \
                                    int nb, int64_t Ho, int64_t Wo, T *y,                  \
                                    int64_t ystride);                                      \
    extern void fastml_cl_dw_##SFX(const T *xs, int64_t xstride, const T *g,               \
                                   int64_t gstride, int64_t ns, int64_t C, int64_t Hp,     \
                                   int64_t Wp, int64_t kh, int64_t kw, int64_t Ho,         \
                                   int64_t Wo, T *dwacc);                                  \
    extern void fastml_sp_dx_##SFX(const T *gq, int64_t Co, int64_t Ho, int64_t Wq,        \
                                   int64_t ph, int64_t kh, int64_t kw, const T *wd,        \
                                   int64_t Ci, int64_t H, int64_t W, T *dx);               \
    extern void fastml_cl_unpack_##SFX(const T *y, int64_t P, int64_t m, const T *bias,    \
                                       T *out);                                            \
    extern void fastml_cl_pack_##SFX(const T *gout, int64_t P, int64_t m, T *g);           \
    extern void fastml_sp_pack_##SFX(const T *gout, int64_t Co, int64_t Ho, int64_t Wo,    \
                                     int64_t q, int64_t Wq, T *gq);                        \
    extern void fastml_row_sums_##SFX(const T *g, int64_t m, int64_t n, double *acc);      \
    extern int fastml_cl_relu_pool_##SFX(T *y, int64_t Wo, int64_t m, const T *bias, \
                                         int64_t k, int64_t Hq, int64_t Wq, T *out,        \
                                         uint8_t *pos);                                    \
    extern int fastml_flat_relu_pool_##SFX(const T *obuf, int64_t ldo, int64_t m,          \
                                           int64_t Wp, const T *bias, int64_t k,           \
                                           int64_t Hq, int64_t Wq, T *out, uint8_t *pos);  \
    extern void fastml_pool_grad_expand_##SFX(const T *gp, const uint8_t *pos, int64_t m,  \
                                              int64_t Ho, int64_t Wo, int64_t k,           \
                                              int64_t Hq, int64_t Wq, T *g);

FASTML_NN_DECLARE_LANES(float, f32)
FASTML_NN_DECLARE_LANES(double, f64)
/* FASTML_VEC_BYTES of the level the kernels run at */
extern int fastml_nn_vec_bytes(void);

/* One tile of a small GEMM (the dense layers): C[i, j] (+)= sum_k A(i, k) B[k, j] for
 * i < m, j < n, A(i, k) = A[i*sai + k*sak], B row-major at ldb with every row readable up
 * to n rounded up to 64 bytes; beta 0 overwrites C, 1 adds to it. The sum over k runs in
 * order, in fixed blocks. */
#define FASTML_NN_DECLARE_GEMM(T, SFX)                                                     \
    extern void fastml_gemm_tile_##SFX(int64_t m, int64_t n, int64_t K, const T *A,        \
                                       int64_t sai, int64_t sak, const T *B, int64_t ldb,  \
                                       T *C, int64_t ldc, int beta);
FASTML_NN_DECLARE_GEMM(float, f32)
FASTML_NN_DECLARE_GEMM(double, f64)

/* Bt[k * ldt + j] = B[j * ldb + k] for j < n, k < K; zeros in Bt's columns n..ldt-1 */
#define FASTML_NN_DECLARE_TRANSPOSE(T, SFX)                                                \
    extern void fastml_transpose_pad_##SFX(const T *B, int64_t n, int64_t K, int64_t ldb,  \
                                           T *Bt, int64_t ldt);
FASTML_NN_DECLARE_TRANSPOSE(float, f32)
FASTML_NN_DECLARE_TRANSPOSE(double, f64)

#endif
