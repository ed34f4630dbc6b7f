/* The exported functions of the kernel sources in csrc/, for the per-target builds of
 * fastml_cpu.h. Add every new non-static function of a kernel source to its source's
 * FASTML_KERNELS_* list below: that list is the one place it is named. setup.py reads the
 * lists and generates the renaming (fastml_kernel_names.h) and each extension's table;
 * tests/test_dispatch.py checks the lists against the compiled extensions.
 *
 * In a per-target translation unit fastml_NAME becomes fastml_NAME__SUFFIX; for callers of
 * a dispatching build it becomes (*fastml_NAME__ptr), so the prototypes of the headers
 * (written with `extern`) declare the function pointers and every call goes through them.
 */
#ifndef FASTML_KERNELS_H
#define FASTML_KERNELS_H
#include "fastml_cpu.h"

#define FASTML_CAT2_(a, b) a##__##b
#define FASTML_CAT_(a, b) FASTML_CAT2_(a, b)
#if defined(FASTML_ISA_BUILD)
#define FASTML_KSYM(name) FASTML_CAT_(name, FASTML_ISA_SUFFIX)
#elif FASTML_DISPATCH
#define FASTML_KSYM(name) (*name##__ptr)
#endif

/* X-lists, one per kernel source. */
#define FASTML_KERNELS_PAIRWISE(X) \
    X(fastml_exp) \
    X(fastml_expf) \
    X(fastml_exp_scaled_f32) \
    X(fastml_exp_scaled_f64) \
    X(fastml_rbf_row_f32) \
    X(fastml_rbf_row_f64) \
    X(fastml_affine_tanh_f32) \
    X(fastml_affine_tanh_f64) \
    X(fastml_affine_powi_f32) \
    X(fastml_affine_powi_f64) \
    X(fastml_row_stats_f32) \
    X(fastml_row_stats_f64) \
    X(fastml_gram_post_f32) \
    X(fastml_gram_post_f64) \
    X(fastml_mirror_tile_f32) \
    X(fastml_mirror_tile_f64) \
    X(fastml_l2_normalize_rows_f32) \
    X(fastml_l2_normalize_rows_f64) \
    X(fastml_tile_min_f32) \
    X(fastml_tile_min_f64) \
    X(fastml_tile_l1_f32) \
    X(fastml_tile_l1_f64) \
    X(fastml_tile_chi2_f32) \
    X(fastml_tile_chi2_f64) \
    X(fastml_tile_chi2gen_f32) \
    X(fastml_tile_chi2gen_f64) \
    X(fastml_tile_sql2_f32) \
    X(fastml_tile_sql2_f64) \
    X(fastml_tile_linf_f32) \
    X(fastml_tile_linf_f64) \
    X(fastml_tile_neq_f32) \
    X(fastml_tile_neq_f64) \
    X(fastml_tile_l3_f32) \
    X(fastml_tile_l3_f64) \
    X(fastml_tile_l4_f32) \
    X(fastml_tile_l4_f64) \
    X(fastml_reduce_tile_f32) \
    X(fastml_reduce_tile_f64) \
    X(fastml_chi2_support_width) \
    X(fastml_chi2_support_f32) \
    X(fastml_chi2_support_f64)
#define FASTML_KERNELS_DISTANCES(X) \
    X(fastml_hamming_packed_t8) \
    X(fastml_first_below_f32) \
    X(fastml_first_below_f64) \
    X(fastml_sqdist_f32) \
    X(fastml_sqdist_f64) \
    X(fastml_sqdist_list_f32) \
    X(fastml_sqdist_list_f64) \
    X(fastml_lb_screen_f32) \
    X(fastml_lb_bounds_f32) \
    X(fastml_below_f32) \
    X(fastml_tile_lp_f32) \
    X(fastml_tile_lp_f64) \
    X(fastml_dtw_f32) \
    X(fastml_dtw_f64)
#define FASTML_KERNELS_LEVENSHTEIN(X) \
    X(fastml_lev_scratch_words) \
    X(fastml_lev_build) \
    X(fastml_lev_distance) \
    X(fastml_lev_group_scratch_words) \
    X(fastml_lev_group_build) \
    X(fastml_lev_group_distances) \
    X(fastml_lev_wide_lanes) \
    X(fastml_lev_wide_scratch_bytes) \
    X(fastml_lev_wide_build) \
    X(fastml_lev_wide_distances)
#define FASTML_KERNELS_NN_CONV(X) \
    X(fastml_im2col_f32) \
    X(fastml_im2col_f64) \
    X(fastml_col2im_f32) \
    X(fastml_col2im_f64) \
    X(fastml_rows_add_bias_f32) \
    X(fastml_rows_add_bias_f64) \
    X(fastml_rows_copy_sum_f32) \
    X(fastml_rows_copy_sum_f64) \
    X(fastml_direct_fwd_f32) \
    X(fastml_direct_fwd_f64) \
    X(fastml_direct_dw_f32) \
    X(fastml_direct_dw_f64) \
    X(fastml_pad_planes_f32) \
    X(fastml_pad_planes_f64) \
    X(fastml_unflat_f32) \
    X(fastml_unflat_f64) \
    X(fastml_flat_grad_f32) \
    X(fastml_flat_grad_f64) \
    X(fastml_nn_vec_bytes) \
    X(fastml_gemm_tile_f32) \
    X(fastml_gemm_tile_f64) \
    X(fastml_transpose_pad_f32) \
    X(fastml_transpose_pad_f64) \
    X(fastml_cl_fwd_f32) \
    X(fastml_cl_fwd_f64) \
    X(fastml_cl_dw_f32) \
    X(fastml_cl_dw_f64) \
    X(fastml_sp_dx_f32) \
    X(fastml_sp_dx_f64) \
    X(fastml_cl_unpack_f32) \
    X(fastml_cl_unpack_f64) \
    X(fastml_cl_pack_f32) \
    X(fastml_cl_pack_f64) \
    X(fastml_sp_pack_f32) \
    X(fastml_sp_pack_f64) \
    X(fastml_row_sums_f32) \
    X(fastml_row_sums_f64) \
    X(fastml_cl_relu_pool_f32) \
    X(fastml_cl_relu_pool_f64) \
    X(fastml_flat_relu_pool_f32) \
    X(fastml_flat_relu_pool_f64) \
    X(fastml_pool_grad_expand_f32) \
    X(fastml_pool_grad_expand_f64)
#define FASTML_KERNELS_NN_POOL(X) \
    X(fastml_maxpool_plane_f32) \
    X(fastml_maxpool_plane_f64) \
    X(fastml_maxpool_bwd_plane_f32) \
    X(fastml_maxpool_bwd_plane_f64) \
    X(fastml_avgpool_plane_f32) \
    X(fastml_avgpool_plane_f64) \
    X(fastml_avgpool_bwd_plane_f32) \
    X(fastml_avgpool_bwd_plane_f64) \
    X(fastml_plane_mean_f32) \
    X(fastml_plane_mean_f64) \
    X(fastml_plane_max_f32) \
    X(fastml_plane_max_f64) \
    X(fastml_plane_fill_f32) \
    X(fastml_plane_fill_f64)

#define FASTML_KERNELS_NAN_EUCLIDEAN(X) \
    X(fastml_nan_panel_width) \
    X(fastml_nan_sqdist_f64) \
    X(fastml_nan_finish_f32) \
    X(fastml_nan_finish_f64)

#define FASTML_KERNELS_SVM(X) \
    X(fastml_svm_smo_f32) \
    X(fastml_svm_smo_f64) \
    X(fastml_svm_gather_f32) \
    X(fastml_svm_gather_f64) \
    X(fastml_svm_gemv_f32) \
    X(fastml_svm_gemv_f64) \
    X(fastml_svm_select) \
    X(fastml_svm_gap) \
    X(fastml_svm_rho)

#ifdef FASTML_KSYM
/* `#define fastml_NAME FASTML_KSYM(fastml_NAME)` for every name of the lists above, generated
 * by setup.py from them */
#include "fastml_kernel_names.h"
#endif

#endif
