/* Building blocks shared by the C loops in csrc/: a vectorisable exp and the macro that
 * generates a tiled pairwise reduction (see fastml_pairwise.h for what a tile computes).
 * Include from .c files only (everything here is static inline or a macro).
 */
#ifndef FASTML_TILE_H
#define FASTML_TILE_H
#include <stdint.h>
#include <string.h>

#include "fastml_cpu.h"
#include "fastml_pairwise.h"

/* ------------------------------------------------------------------------------------
 * exp(x) that GCC can vectorise: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a
 * Taylor polynomial for exp(r) (degree 13 in double, 7 in float: error below 1 ulp of
 * the polynomial's range), and 2^n built from bits. 2^n is applied as two factors so
 * that results in the subnormal range are right too. Inputs are finite (validated).
 * ------------------------------------------------------------------------------------ */
static inline double exp_f64(double x)
{
    const double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01,
                 ln2_lo = 1.90821492927058770002e-10, shifter = 6755399441055744.0; /* 1.5*2^52 */
    x = x < -746.0 ? -746.0 : (x > 709.78 ? 709.78 : x);
    double t = x * log2e + shifter;
    int64_t ti, si;
    memcpy(&ti, &t, 8);
    memcpy(&si, &shifter, 8);
    int64_t n = ti - si;
    double nd = t - shifter;
    double r = (x - nd * ln2_hi) - nd * ln2_lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* (unsigned shifts: a NaN argument, which only arrives when the caller asked for no
     * finiteness check, gives a garbage n but a NaN p, and no undefined behaviour) */
    int64_t n1 = n >> 1, n2 = n - n1;
    int64_t b1 = (int64_t)((uint64_t)(n1 + 1023) << 52), b2 = (int64_t)((uint64_t)(n2 + 1023) << 52);
    double s1, s2;
    memcpy(&s1, &b1, 8);
    memcpy(&s2, &b2, 8);
    return p * s1 * s2;
}

static inline float exp_f32(float x)
{
    const float log2e = 1.44269504f, ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-06f,
                shifter = 12582912.0f; /* 1.5 * 2^23 */
    x = x < -104.0f ? -104.0f : (x > 88.72f ? 88.72f : x);
    float t = x * log2e + shifter;
    int32_t ti, si;
    memcpy(&ti, &t, 4);
    memcpy(&si, &shifter, 4);
    int32_t n = ti - si;
    float nd = t - shifter;
    float r = (x - nd * ln2_hi) - nd * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t n1 = n >> 1, n2 = n - n1;
    int32_t b1 = (int32_t)((uint32_t)(n1 + 127) << 23), b2 = (int32_t)((uint32_t)(n2 + 127) << 23);
    float s1, s2;
    memcpy(&s1, &b1, 4);
    memcpy(&s2, &b2, 4);
    return p * s1 * s2;
}

/* Apply the post-transform to an nr x nc block with row stride ld (vectorised). */
#define DEFINE_POST_BLOCK(T, SFX, EXP)                                                     \
    static inline void post_block_##SFX(T *o, int64_t nr, int64_t nc, int64_t ld, int post, \
                                        T scale)                                           \
    {                                                                                      \
        if (post == FASTML_POST_NONE)                                                      \
            return;                                                                        \
        for (int64_t r = 0; r < nr; r++) {                                                 \
            T *row = o + r * ld;                                                           \
            if (post == FASTML_POST_NEG) {                                                 \
                FASTML_PRAGMA(omp simd)                                                    \
                for (int64_t c = 0; c < nc; c++)                                           \
                    row[c] = -row[c];                                                      \
            } else {                                                                       \
                FASTML_PRAGMA(omp simd)                                                    \
                for (int64_t c = 0; c < nc; c++)                                           \
                    row[c] = EXP(scale * row[c]);                                          \
            }                                                                              \
        }                                                                                  \
    }
DEFINE_POST_BLOCK(float, f32, exp_f32)
DEFINE_POST_BLOCK(double, f64, exp_f64)

/* outT[j * ld + i] = out[i * ld + j] for an nr x nc block: the mirrored half of a symmetric
 * result is a copy of the finished half, so K == K.T exactly. Square sub-blocks of W x W
 * values are transposed in registers (W values per vector: whole rows in, whole rows
 * out), the edges one value at a time. */
#if FASTML_X86
#include <immintrin.h>
#endif

#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
#define TR_W_F64 8
static inline void tr_block_f64(const double *s, double *d, int64_t ld)
{
    __m512d r0 = _mm512_loadu_pd(s), r1 = _mm512_loadu_pd(s + ld);
    __m512d r2 = _mm512_loadu_pd(s + 2 * ld), r3 = _mm512_loadu_pd(s + 3 * ld);
    __m512d r4 = _mm512_loadu_pd(s + 4 * ld), r5 = _mm512_loadu_pd(s + 5 * ld);
    __m512d r6 = _mm512_loadu_pd(s + 6 * ld), r7 = _mm512_loadu_pd(s + 7 * ld);
    /* pairs of rows interleaved, then 128-bit lanes gathered twice */
    __m512d t0 = _mm512_unpacklo_pd(r0, r1), t1 = _mm512_unpackhi_pd(r0, r1);
    __m512d t2 = _mm512_unpacklo_pd(r2, r3), t3 = _mm512_unpackhi_pd(r2, r3);
    __m512d t4 = _mm512_unpacklo_pd(r4, r5), t5 = _mm512_unpackhi_pd(r4, r5);
    __m512d t6 = _mm512_unpacklo_pd(r6, r7), t7 = _mm512_unpackhi_pd(r6, r7);
    __m512d u0 = _mm512_shuffle_f64x2(t0, t2, 0x88), u1 = _mm512_shuffle_f64x2(t0, t2, 0xdd);
    __m512d u2 = _mm512_shuffle_f64x2(t1, t3, 0x88), u3 = _mm512_shuffle_f64x2(t1, t3, 0xdd);
    __m512d u4 = _mm512_shuffle_f64x2(t4, t6, 0x88), u5 = _mm512_shuffle_f64x2(t4, t6, 0xdd);
    __m512d u6 = _mm512_shuffle_f64x2(t5, t7, 0x88), u7 = _mm512_shuffle_f64x2(t5, t7, 0xdd);
    _mm512_storeu_pd(d, _mm512_shuffle_f64x2(u0, u4, 0x88));
    _mm512_storeu_pd(d + ld, _mm512_shuffle_f64x2(u2, u6, 0x88));
    _mm512_storeu_pd(d + 2 * ld, _mm512_shuffle_f64x2(u1, u5, 0x88));
    _mm512_storeu_pd(d + 3 * ld, _mm512_shuffle_f64x2(u3, u7, 0x88));
    _mm512_storeu_pd(d + 4 * ld, _mm512_shuffle_f64x2(u0, u4, 0xdd));
    _mm512_storeu_pd(d + 5 * ld, _mm512_shuffle_f64x2(u2, u6, 0xdd));
    _mm512_storeu_pd(d + 6 * ld, _mm512_shuffle_f64x2(u1, u5, 0xdd));
    _mm512_storeu_pd(d + 7 * ld, _mm512_shuffle_f64x2(u3, u7, 0xdd));
}
#elif FASTML_X86 && FASTML_ISA_LEVEL == FASTML_LEVEL_AVX2
#define TR_W_F64 4
static inline void tr_block_f64(const double *s, double *d, int64_t ld)
{
    __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + ld);
    __m256d r2 = _mm256_loadu_pd(s + 2 * ld), r3 = _mm256_loadu_pd(s + 3 * ld);
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(d + ld, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(d + 2 * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(d + 3 * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#elif FASTML_X86
#define TR_W_F64 2
static inline void tr_block_f64(const double *s, double *d, int64_t ld)
{
    __m128d r0 = _mm_loadu_pd(s), r1 = _mm_loadu_pd(s + ld);
    _mm_storeu_pd(d, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(d + ld, _mm_unpackhi_pd(r0, r1));
}
#endif

#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX2
#define TR_W_F32 8
static inline void tr_block_f32(const float *s, float *d, int64_t ld)
{
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ld);
    __m256 r2 = _mm256_loadu_ps(s + 2 * ld), r3 = _mm256_loadu_ps(s + 3 * ld);
    __m256 r4 = _mm256_loadu_ps(s + 4 * ld), r5 = _mm256_loadu_ps(s + 5 * ld);
    __m256 r6 = _mm256_loadu_ps(s + 6 * ld), r7 = _mm256_loadu_ps(s + 7 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ld, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#elif FASTML_X86
#define TR_W_F32 4
static inline void tr_block_f32(const float *s, float *d, int64_t ld)
{
    __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + ld);
    __m128 r2 = _mm_loadu_ps(s + 2 * ld), r3 = _mm_loadu_ps(s + 3 * ld);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(d, r0);
    _mm_storeu_ps(d + ld, r1);
    _mm_storeu_ps(d + 2 * ld, r2);
    _mm_storeu_ps(d + 3 * ld, r3);
}
#endif

#define DEFINE_MIRROR_BLOCK(T, SFX, W, TRANSPOSE)                                           \
    static inline void mirror_block_##SFX(const T *out, T *outT, int64_t nr, int64_t nc,    \
                                          int64_t ld)                                      \
    {                                                                                      \
        const int64_t rw = (W) > 1 ? nr - nr % (W) : 0, cw = (W) > 1 ? nc - nc % (W) : 0;  \
        for (int64_t i = 0; i < rw; i += (W))                                              \
            for (int64_t j = 0; j < cw; j += (W))                                          \
                TRANSPOSE(out + i * ld + j, outT + j * ld + i, ld);                        \
        for (int64_t i = 0; i < nr; i++) /* the edges */                                   \
            for (int64_t j = i < rw ? cw : 0; j < nc; j++)                                 \
                outT[j * ld + i] = out[i * ld + j];                                        \
    }
#ifdef TR_W_F64
DEFINE_MIRROR_BLOCK(double, f64, TR_W_F64, tr_block_f64)
#else
#define tr_none_f64(s, d, ld) ((void)0)
DEFINE_MIRROR_BLOCK(double, f64, 1, tr_none_f64)
#endif
#ifdef TR_W_F32
DEFINE_MIRROR_BLOCK(float, f32, TR_W_F32, tr_block_f32)
#else
#define tr_none_f32(s, d, ld) ((void)0)
DEFINE_MIRROR_BLOCK(float, f32, 1, tr_none_f32)
#endif

#define COMB_SUM(acc, t) ((acc) + (t))
#define COMB_MAX(acc, t) ((acc) > (t) ? (acc) : (t))

/* DEFINE_TILE(NAME, T, SFX, OP, RED, COMB) defines
 *   void fastml_tile_NAME_SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale)
 * OP(x, y) is the per-feature term, RED the `omp simd` reduction operator (+ or max) and
 * COMB(acc, term) the matching combination (COMB_SUM or COMB_MAX). The body computes
 * 4 x 4 register tiles (16 accumulators, 8 loads per feature step) and handles the tails
 * with a single-pair loop; the summation order of a pair depends only on the shapes, so
 * results do not depend on the thread count. */
#define DEFINE_TILE(NAME, T, SFX, OP, RED, COMB)                                           \
    static inline T one_##NAME##_##SFX(const T *x, const T *y, int64_t d)                  \
    {                                                                                      \
        T a = 0;                                                                           \
        FASTML_PRAGMA(omp simd reduction(RED : a))                                         \
        for (int64_t k = 0; k < d; k++)                                                    \
            a = COMB(a, OP(x[k], y[k]));                                                   \
        return a;                                                                          \
    }                                                                                      \
    void fastml_tile_##NAME##_##SFX(const T *X, int64_t nx, const T *Y,      \
                                                  int64_t ny, int64_t d, T *out, T *outT,  \
                                                  int64_t ldo, int post, T scale)          \
    {                                                                                      \
        /* Features in chunks of KC: a chunk of the 4 X rows (4 KC values) stays in L1 while  \
         * the Y rows stream past; partial sums live in `out` between chunks. */          \
        const int64_t KC = 4096 / (int64_t)sizeof(T);                                      \
        int64_t i0 = 0;                                                                    \
        for (; i0 + 4 <= nx; i0 += 4) {                                                    \
            const T *x0 = X + i0 * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;            \
            int64_t j0 = 0;                                                                \
            for (int64_t k0 = 0; k0 < d; k0 += KC) {                                       \
            const int64_t k1 = k0 + KC < d ? k0 + KC : d;                                  \
            for (j0 = 0; j0 + 4 <= ny; j0 += 4) {                                          \
                const T *y0 = Y + j0 * d, *y1 = y0 + d, *y2 = y1 + d, *y3 = y2 + d;        \
                T acc[16];                                                                 \
                for (int a = 0; a < 4; a++)                                                \
                    for (int b = 0; b < 4; b++)                                            \
                        acc[4 * a + b] = k0 ? out[(i0 + a) * ldo + j0 + b] : (T)0;         \
                T a00 = acc[0], a01 = acc[1], a02 = acc[2], a03 = acc[3];                  \
                T a10 = acc[4], a11 = acc[5], a12 = acc[6], a13 = acc[7];                  \
                T a20 = acc[8], a21 = acc[9], a22 = acc[10], a23 = acc[11];                \
                T a30 = acc[12], a31 = acc[13], a32 = acc[14], a33 = acc[15];              \
                FASTML_PRAGMA(omp simd reduction(RED : a00, a01, a02, a03, a10, a11, a12,  \
                                                 a13, a20, a21, a22, a23, a30, a31, a32,   \
                                                 a33))                                     \
                for (int64_t k = k0; k < k1; k++) {                                        \
                    T p = x0[k], q = x1[k], r = x2[k], s = x3[k];                          \
                    T u = y0[k], v = y1[k], w = y2[k], z = y3[k];                          \
                    a00 = COMB(a00, OP(p, u)); a01 = COMB(a01, OP(p, v));                  \
                    a02 = COMB(a02, OP(p, w)); a03 = COMB(a03, OP(p, z));                  \
                    a10 = COMB(a10, OP(q, u)); a11 = COMB(a11, OP(q, v));                  \
                    a12 = COMB(a12, OP(q, w)); a13 = COMB(a13, OP(q, z));                  \
                    a20 = COMB(a20, OP(r, u)); a21 = COMB(a21, OP(r, v));                  \
                    a22 = COMB(a22, OP(r, w)); a23 = COMB(a23, OP(r, z));                  \
                    a30 = COMB(a30, OP(s, u)); a31 = COMB(a31, OP(s, v));                  \
                    a32 = COMB(a32, OP(s, w)); a33 = COMB(a33, OP(s, z));                  \
                }                                                                          \
                T res[16] = {a00, a01, a02, a03, a10, a11, a12, a13,                       \
                             a20, a21, a22, a23, a30, a31, a32, a33};                      \
                for (int a = 0; a < 4; a++)                                                \
                    for (int b = 0; b < 4; b++)                                            \
                        out[(i0 + a) * ldo + j0 + b] = res[4 * a + b];                     \
            }                                                                              \
            }                                                                              \
            for (; j0 < ny; j0++) /* column tail */                                        \
                for (int a = 0; a < 4; a++) {                                              \
                    T *o = out + (i0 + a) * ldo + j0;                                      \
                    *o = one_##NAME##_##SFX(x0 + a * d, Y + j0 * d, d);                    \
                }                                                                          \
        }                                                                                  \
        for (; i0 < nx; i0++) /* row tail */                                               \
            for (int64_t j = 0; j < ny; j++) {                                             \
                T *o = out + i0 * ldo + j;                                                 \
                *o = one_##NAME##_##SFX(X + i0 * d, Y + j * d, d);                         \
            }                                                                              \
        post_block_##SFX(out, nx, ny, ldo, post, scale);                                   \
        if (outT)                                                                          \
            mirror_block_##SFX(out, outT, nx, ny, ldo);                                    \
    }

#endif
