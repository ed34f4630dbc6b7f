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

#define FASTML_NN_DECLARE(T, SFX)                                                          \
    void fastml_im2col_##SFX(const T *x, int64_t C, int64_t H, int64_t W, int64_t kh,      \
                             int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,   \
                             int64_t Ho, int64_t Wo, T *col, int64_t ldcol);               \
    void fastml_col2im_##SFX(const T *col, int64_t ldcol, int64_t C, int64_t H, int64_t W, \
                             int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,   \
                             int64_t pw, int64_t Ho, int64_t Wo, T *x);                    \
    /* out[r, j] = src[r, j] + (bias ? bias[r] : 0), rows r < nr of length n */            \
    void fastml_rows_add_bias_##SFX(const T *src, int64_t lds, T *out, int64_t ldo,        \
                                    int64_t nr, int64_t n, const T *bias);                 \
    /* dst[r, j] = src[r, j]; acc[r] += sum_j src[r, j] (acc may be NULL) */               \
    void fastml_rows_copy_sum_##SFX(const T *src, int64_t lds, T *dst, int64_t ldd,        \
                                    int64_t nr, int64_t n, double *acc);                   \
    /* max pooling of one plane: out and argmax (flat index into the plane) */             \
    void fastml_maxpool_plane_##SFX(const T *x, int64_t H, int64_t W, int64_t kh,          \
                                    int64_t kw, int64_t sh, int64_t sw, int64_t ph,        \
                                    int64_t pw, int64_t Ho, int64_t Wo, T *out,            \
                                    int64_t *argmax);                                      \
    /* dx (H*W, overwritten) from the gradient of the no outputs and their argmax */       \
    void fastml_maxpool_bwd_plane_##SFX(const T *g, const int64_t *argmax, int64_t no,     \
                                        T *dx, int64_t hw);                                \
    void fastml_avgpool_plane_##SFX(const T *x, int64_t H, int64_t W, int64_t kh,          \
                                    int64_t kw, int64_t sh, int64_t sw, int64_t ph,        \
                                    int64_t pw, int64_t Ho, int64_t Wo, int include_pad,   \
                                    T *out);                                               \
    void fastml_avgpool_bwd_plane_##SFX(const T *g, int64_t H, int64_t W, int64_t kh,      \
                                        int64_t kw, int64_t sh, int64_t sw, int64_t ph,    \
                                        int64_t pw, int64_t Ho, int64_t Wo,                \
                                        int include_pad, T *dx);                           \
    /* global pooling of one plane of n values */                                          \
    T fastml_plane_mean_##SFX(const T *x, int64_t n);                                      \
    T fastml_plane_max_##SFX(const T *x, int64_t n, int64_t *argmax);                      \
    void fastml_plane_fill_##SFX(T *x, int64_t n, T v);

FASTML_NN_DECLARE(float, f32)
FASTML_NN_DECLARE(double, f64)

#endif
