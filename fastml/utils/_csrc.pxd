"""The C functions and constants of csrc/ that the Cython modules call: declared once
here, cimported by every module that calls them. In a dispatching build a kernel's name
is, in C, a call through the function pointer that the extension set for its SIMD level
(csrc/fastml_kernels.h); for Cython it is an ordinary C function."""
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t

cdef extern from "fastml_cpu.h":
    const char *fastml_simd_path() noexcept nogil
    int fastml_cpu_detected_level() noexcept nogil
    int fastml_cpu_cap_level() noexcept nogil
    int fastml_cpu_used_level() noexcept nogil
    int fastml_cpu_dispatch_built() noexcept nogil
    int fastml_cpu_nlevels() noexcept nogil
    const char *fastml_cpu_level_name(int level) noexcept nogil

cdef extern from "fastml_pairwise.h":
    int FASTML_POST_NONE
    int FASTML_POST_NEG
    int FASTML_POST_EXP
    void fastml_tile_min_f32(const float *X, int64_t nx, const float *Y, int64_t ny,
                             int64_t d, float *out, float *outT, int64_t ldo, int post,
                             float scale) noexcept nogil
    void fastml_tile_min_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                             int64_t d, double *out, double *outT, int64_t ldo, int post,
                             double scale) noexcept nogil
    void fastml_tile_l1_f32(const float *X, int64_t nx, const float *Y, int64_t ny,
                            int64_t d, float *out, float *outT, int64_t ldo, int post,
                            float scale) noexcept nogil
    void fastml_tile_l1_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                            int64_t d, double *out, double *outT, int64_t ldo, int post,
                            double scale) noexcept nogil
    void fastml_tile_chi2_f32(const float *X, int64_t nx, const float *Y, int64_t ny,
                              int64_t d, float *out, float *outT, int64_t ldo, int post,
                              float scale) noexcept nogil
    void fastml_tile_chi2_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                              int64_t d, double *out, double *outT, int64_t ldo, int post,
                              double scale) noexcept nogil
    void fastml_exp_scaled_f32(float *v, int64_t n, float scale) noexcept nogil
    void fastml_exp_scaled_f64(double *v, int64_t n, double scale) noexcept nogil
    void fastml_rbf_row_f32(float *v, const float *b, int64_t n, float a,
                            float gamma) noexcept nogil
    void fastml_rbf_row_f64(double *v, const double *b, int64_t n, double a,
                            double gamma) noexcept nogil
    void fastml_affine_tanh_f32(float *v, int64_t n, float gamma, float coef0) noexcept nogil
    void fastml_affine_tanh_f64(double *v, int64_t n, double gamma,
                                double coef0) noexcept nogil
    void fastml_affine_powi_f32(float *v, int64_t n, float gamma, float coef0,
                                int p) noexcept nogil
    void fastml_affine_powi_f64(double *v, int64_t n, double gamma, double coef0,
                                int p) noexcept nogil
    float fastml_expf(float x) noexcept nogil
    int FASTML_GRAM_NONE
    int FASTML_GRAM_RBF
    int FASTML_GRAM_POWI
    int FASTML_GRAM_TANH
    void fastml_row_stats_f32(const float *X, int64_t n, int64_t d, float *sq,
                              float *lohi) noexcept nogil
    void fastml_row_stats_f64(const double *X, int64_t n, int64_t d, double *sq,
                              double *lohi) noexcept nogil
    void fastml_gram_post_f32(float *K, int64_t ld, int64_t nr, int64_t nc, int diag,
                              int kind, const float *a, const float *b, float p0, float p1,
                              int ip) noexcept nogil
    void fastml_gram_post_f64(double *K, int64_t ld, int64_t nr, int64_t nc, int diag,
                              int kind, const double *a, const double *b, double p0,
                              double p1, int ip) noexcept nogil
    void fastml_l2_normalize_rows_f32(const float *X, int64_t n, int64_t d,
                                      float *out) noexcept nogil
    void fastml_l2_normalize_rows_f64(const double *X, int64_t n, int64_t d,
                                      double *out) noexcept nogil
    void fastml_mirror_tile_f32(float *K, int64_t ld, int64_t i0, int64_t j0, int64_t nr,
                                int64_t nc) noexcept nogil
    void fastml_mirror_tile_f64(double *K, int64_t ld, int64_t i0, int64_t j0, int64_t nr,
                                int64_t nc) noexcept nogil
    double fastml_exp(double x) noexcept nogil
    int FASTML_OP_SQL2
    int FASTML_OP_LINF
    int FASTML_OP_NEQ
    int FASTML_OP_L3
    int FASTML_OP_L4
    void fastml_reduce_tile_f32(int op, const float *X, int64_t nx, const float *Y,
                                int64_t ny, int64_t d, float *out, float *outT, int64_t ldo,
                                int post, float scale) noexcept nogil
    void fastml_reduce_tile_f64(int op, const double *X, int64_t nx, const double *Y,
                                int64_t ny, int64_t d, double *out, double *outT,
                                int64_t ldo, int post, double scale) noexcept nogil
    int64_t fastml_chi2_support_width(int dbl) noexcept nogil
    void fastml_chi2_support_f32(int64_t nq, const int64_t *rows, const int64_t *qptr,
                                 const int32_t *qcol, const float *qval, const double *qsum,
                                 const float *Yt,
                                 int64_t ldy, int64_t j0, int64_t j1, const double *ysum,
                                 float *out, int64_t ldo, int post, double scale) noexcept nogil
    void fastml_chi2_support_f64(int64_t nq, const int64_t *rows, const int64_t *qptr,
                                 const int32_t *qcol, const double *qval, const double *qsum,
                                 const double *Yt,
                                 int64_t ldy, int64_t j0, int64_t j1, const double *ysum,
                                 double *out, int64_t ldo, int post, double scale) noexcept nogil

cdef extern from "fastml_distances.h":
    void fastml_hamming_packed_t8(const uint64_t *X, int64_t nx, const uint64_t *Yt,
                                  int64_t ny, int64_t w, int32_t *out,
                                  int64_t ldo) noexcept nogil
    int64_t fastml_first_below_f32(const float *row, const float *add, int64_t n,
                                   float thr) noexcept nogil
    int64_t fastml_first_below_f64(const double *row, const double *add, int64_t n,
                                   double thr) noexcept nogil
    double fastml_sqdist_f32(const float *x, const float *y, int64_t d) noexcept nogil
    double fastml_sqdist_f64(const double *x, const double *y, int64_t d) noexcept nogil
    void fastml_sqdist_list_f32(const float *x, const float *F, int64_t d, const int32_t *idx,
                                int64_t n, double bound, double *out) noexcept nogil
    void fastml_sqdist_list_f64(const double *x, const double *F, int64_t d,
                                const int32_t *idx, int64_t n, double bound,
                                double *out) noexcept nogil
    void fastml_lb_screen_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft,
                              int64_t ng, const float *fadd, const float *thr, int64_t j0,
                              int32_t *cj, float *cv, int64_t cap, int64_t *cnt) noexcept nogil
    void fastml_lb_bounds_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft,
                              int64_t ng, const float *fadd, float *out,
                              int64_t ldo) noexcept nogil
    int64_t fastml_below_f32(const float *v, int64_t n, float thr, int64_t j0, int32_t *idx,
                             float *val) noexcept nogil
    void fastml_tile_lp_f32(const float *X, int64_t nx, const float *Y, int64_t ny,
                            int64_t d, float *out, int64_t ldo, float p) noexcept nogil
    void fastml_tile_lp_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                            int64_t d, double *out, int64_t ldo, double p) noexcept nogil
    float fastml_dtw_f32(const float *a, int64_t n, const float *b, int64_t m, int64_t dim,
                         int64_t window, float *buf) noexcept nogil
    double fastml_dtw_f64(const double *a, int64_t n, const double *b, int64_t m,
                          int64_t dim, int64_t window, double *buf) noexcept nogil
    ctypedef struct fastml_lev_pattern:
        pass
    int64_t fastml_lev_scratch_words(int64_t max_len) noexcept nogil
    void fastml_lev_build(fastml_lev_pattern *P, uint64_t *scratch, const uint32_t *s,
                          int64_t m) noexcept nogil
    int64_t fastml_lev_distance(fastml_lev_pattern *P, const uint32_t *t,
                                int64_t n) noexcept nogil
    int FASTML_LEV_GROUP
    int FASTML_LEV_GROUP_WORDS
    ctypedef struct fastml_lev_group:
        pass
    int64_t fastml_lev_group_scratch_words() noexcept nogil
    void fastml_lev_group_build(fastml_lev_group *G, uint64_t *scratch, const uint32_t *sym,
                                const int64_t *off, const int64_t *rows,
                                int n) noexcept nogil
    void fastml_lev_group_distances(const fastml_lev_group *G, const uint32_t *t,
                                    int64_t len, int64_t *res) noexcept nogil
    ctypedef struct fastml_lev_wide:
        pass
    int64_t fastml_lev_wide_lanes(int64_t bits) noexcept nogil
    int64_t fastml_lev_wide_scratch_bytes() noexcept nogil
    void fastml_lev_wide_build(fastml_lev_wide *W, unsigned char *scratch, const uint32_t *sym,
                               const int64_t *off, const int64_t *rows, int n,
                               int bits) noexcept nogil
    void fastml_lev_wide_distances(const fastml_lev_wide *W, const uint32_t **tx,
                                   const int64_t *tl, int nt, int64_t *res) noexcept nogil

cdef extern from "fastml_svm.h":
    int64_t fastml_svm_smo_f32(int64_t n, const float *Q, int64_t ldq, const double *QD,
                               const int8_t *y, const double *C, double *alpha, double *G,
                               uint8_t *status, int nu, double eps, int64_t max_steps,
                               int *converged) noexcept nogil
    int64_t fastml_svm_smo_f64(int64_t n, const double *Q, int64_t ldq, const double *QD,
                               const int8_t *y, const double *C, double *alpha, double *G,
                               uint8_t *status, int nu, double eps, int64_t max_steps,
                               int *converged) noexcept nogil
    void fastml_svm_gather_f32(int64_t n, const float *const *rows, const int32_t *col,
                               const int8_t *y, float *Q, double *QD) noexcept nogil
    void fastml_svm_gather_f64(int64_t n, const double *const *rows, const int32_t *col,
                               const int8_t *y, double *Q, double *QD) noexcept nogil
    void fastml_svm_gemv_f32(int64_t nr, const float *const *rows, const double *c,
                             int64_t u0, int64_t u1, double *g) noexcept nogil
    void fastml_svm_gemv_f64(int64_t nr, const double *const *rows, const double *c,
                             int64_t u0, int64_t u1, double *g) noexcept nogil
    int64_t fastml_svm_select(int64_t l, const int8_t *y, const double *G,
                              const double *alpha, const double *C, int nu, uint8_t *skip,
                              int64_t k, int32_t *out, double *gap,
                              void *scratch) noexcept nogil
    double fastml_svm_gap(int64_t l, const int8_t *y, const double *G, const double *alpha,
                          const double *C, int nu) noexcept nogil
    double fastml_svm_rho(int64_t l, const int8_t *y, const double *G, const double *alpha,
                          const double *C, int nu, double *r_out) noexcept nogil

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
    int fastml_nn_vec_bytes() noexcept nogil
    void fastml_gemm_tile_f32(int64_t m, int64_t n, int64_t K, const float *A, int64_t sai,
                              int64_t sak, const float *B, int64_t ldb, float *C,
                              int64_t ldc, int beta) noexcept nogil
    void fastml_gemm_tile_f64(int64_t m, int64_t n, int64_t K, const double *A, int64_t sai,
                              int64_t sak, const double *B, int64_t ldb, double *C,
                              int64_t ldc, int beta) noexcept nogil
    void fastml_transpose_pad_f32(const float *B, int64_t n, int64_t K, int64_t ldb,
                                  float *Bt, int64_t ldt) noexcept nogil
    void fastml_transpose_pad_f64(const double *B, int64_t n, int64_t K, int64_t ldb,
                                  double *Bt, int64_t ldt) noexcept nogil
    void fastml_cl_fwd_f32(const float *xp, int64_t C, int64_t Hp, int64_t Wp, int64_t kh,
                           int64_t kw, const float *wq, int64_t wstride, int nb, int64_t Ho,
                           int64_t Wo, float *y, int64_t ystride) noexcept nogil
    void fastml_cl_fwd_f64(const double *xp, int64_t C, int64_t Hp, int64_t Wp, int64_t kh,
                           int64_t kw, const double *wq, int64_t wstride, int nb, int64_t Ho,
                           int64_t Wo, double *y, int64_t ystride) noexcept nogil
    void fastml_cl_dw_f32(const float *xs, int64_t xstride, const float *g, int64_t gstride,
                          int64_t ns, int64_t C, int64_t Hp, int64_t Wp, int64_t kh,
                          int64_t kw, int64_t Ho, int64_t Wo, float *dwacc) noexcept nogil
    void fastml_cl_dw_f64(const double *xs, int64_t xstride, const double *g,
                          int64_t gstride, int64_t ns, int64_t C, int64_t Hp, int64_t Wp,
                          int64_t kh, int64_t kw, int64_t Ho, int64_t Wo,
                          double *dwacc) noexcept nogil
    void fastml_sp_dx_f32(const float *gq, int64_t Co, int64_t Ho, int64_t Wq, int64_t ph,
                          int64_t kh, int64_t kw, const float *wd, int64_t Ci, int64_t H,
                          int64_t W, float *dx) noexcept nogil
    void fastml_sp_dx_f64(const double *gq, int64_t Co, int64_t Ho, int64_t Wq, int64_t ph,
                          int64_t kh, int64_t kw, const double *wd, int64_t Ci, int64_t H,
                          int64_t W, double *dx) noexcept nogil
    void fastml_cl_unpack_f32(const float *y, int64_t P, int64_t m, const float *bias,
                              float *out) noexcept nogil
    void fastml_cl_unpack_f64(const double *y, int64_t P, int64_t m, const double *bias,
                              double *out) noexcept nogil
    void fastml_cl_pack_f32(const float *gout, int64_t P, int64_t m, float *g) noexcept nogil
    void fastml_cl_pack_f64(const double *gout, int64_t P, int64_t m,
                            double *g) noexcept nogil
    void fastml_sp_pack_f32(const float *gout, int64_t Co, int64_t Ho, int64_t Wo, int64_t q,
                            int64_t Wq, float *gq) noexcept nogil
    void fastml_sp_pack_f64(const double *gout, int64_t Co, int64_t Ho, int64_t Wo,
                            int64_t q, int64_t Wq, double *gq) noexcept nogil
    void fastml_row_sums_f32(const float *g, int64_t m, int64_t n, double *acc) noexcept nogil
    void fastml_row_sums_f64(const double *g, int64_t m, int64_t n, double *acc) noexcept nogil
    int fastml_cl_relu_pool_f32(float *y, int64_t Wo, int64_t m, const float *bias,
                                int64_t k, int64_t Hq, int64_t Wq, float *out,
                                unsigned char *pos) noexcept nogil
    int fastml_cl_relu_pool_f64(double *y, int64_t Wo, int64_t m, const double *bias,
                                int64_t k, int64_t Hq, int64_t Wq, double *out,
                                unsigned char *pos) noexcept nogil
    int fastml_flat_relu_pool_f32(const float *obuf, int64_t ldo, int64_t m, int64_t Wp,
                                  const float *bias, int64_t k, int64_t Hq, int64_t Wq,
                                  float *out, unsigned char *pos) noexcept nogil
    int fastml_flat_relu_pool_f64(const double *obuf, int64_t ldo, int64_t m, int64_t Wp,
                                  const double *bias, int64_t k, int64_t Hq, int64_t Wq,
                                  double *out, unsigned char *pos) noexcept nogil
    void fastml_pool_grad_expand_f32(const float *gp, const unsigned char *pos, int64_t m,
                                     int64_t Ho, int64_t Wo, int64_t k, int64_t Hq,
                                     int64_t Wq, float *g) noexcept nogil
    void fastml_pool_grad_expand_f64(const double *gp, const unsigned char *pos, int64_t m,
                                     int64_t Ho, int64_t Wo, int64_t k, int64_t Hq,
                                     int64_t Wq, double *g) noexcept nogil
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
    void fastml_maxpool_plane_f32(const float *x, int64_t H, int64_t W, int64_t kh, int64_t kw,
                                  int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t Ho,
                                  int64_t Wo, float *out, int64_t *argmax) noexcept nogil
    void fastml_maxpool_plane_f64(const double *x, int64_t H, int64_t W, int64_t kh,
                                  int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                                  int64_t Ho, int64_t Wo, double *out,
                                  int64_t *argmax) noexcept nogil
    void fastml_maxpool_bwd_plane_f32(const float *g, const int64_t *argmax, int64_t no,
                                      float *dx, int64_t hw) noexcept nogil
    void fastml_maxpool_bwd_plane_f64(const double *g, const int64_t *argmax, int64_t no,
                                      double *dx, int64_t hw) noexcept nogil
    void fastml_avgpool_plane_f32(const float *x, int64_t H, int64_t W, int64_t kh, int64_t kw,
                                  int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t Ho,
                                  int64_t Wo, int include_pad, float *out) noexcept nogil
    void fastml_avgpool_plane_f64(const double *x, int64_t H, int64_t W, int64_t kh,
                                  int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                                  int64_t Ho, int64_t Wo, int include_pad,
                                  double *out) noexcept nogil
    void fastml_avgpool_bwd_plane_f32(const float *g, int64_t H, int64_t W, int64_t kh,
                                      int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                                      int64_t pw, int64_t Ho, int64_t Wo, int include_pad,
                                      float *dx) noexcept nogil
    void fastml_avgpool_bwd_plane_f64(const double *g, int64_t H, int64_t W, int64_t kh,
                                      int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                                      int64_t pw, int64_t Ho, int64_t Wo, int include_pad,
                                      double *dx) noexcept nogil
    float fastml_plane_mean_f32(const float *x, int64_t n) noexcept nogil
    double fastml_plane_mean_f64(const double *x, int64_t n) noexcept nogil
    float fastml_plane_max_f32(const float *x, int64_t n, int64_t *argmax) noexcept nogil
    double fastml_plane_max_f64(const double *x, int64_t n, int64_t *argmax) noexcept nogil
    void fastml_plane_fill_f32(float *x, int64_t n, float v) noexcept nogil
    void fastml_plane_fill_f64(double *x, int64_t n, double v) noexcept nogil
