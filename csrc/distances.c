/* Hamming on packed bits, Minkowski with a general p and dynamic time warping; see
 * fastml_distances.h. (The feature-reduction distances, L1, Chebyshev, squared L2,
 * Hamming on values and Minkowski p = 3, 4, are tiles in pairwise.c.) */
#include <math.h>
#include <stdint.h>

#include "fastml_cpu.h"
#include "fastml_distances.h"


#define DEFINE_LP(T, SFX, POW, FABS)                                                       \
    void fastml_tile_lp_##SFX(const T *X, int64_t nx, const T *Y, int64_t ny, \
                                            int64_t d, T *out, int64_t ldo, T p)           \
    {                                                                                      \
        for (int64_t i = 0; i < nx; i++)                                                   \
            for (int64_t j = 0; j < ny; j++) {                                             \
                const T *x = X + i * d, *y = Y + j * d;                                    \
                T a = 0;                                                                   \
                for (int64_t k = 0; k < d; k++) {                                          \
                    T t = FABS(x[k] - y[k]);                                               \
                    a += t > 0 ? POW(t, p) : 0;                                            \
                }                                                                          \
                out[i * ldo + j] = a;                                                      \
            }                                                                              \
    }
DEFINE_LP(float, f32, powf, fabsf)
DEFINE_LP(double, f64, pow, fabs)

#define DEFINE_DTW(T, SFX, SQRT, INF)                                                      \
    T fastml_dtw_##SFX(const T *a, int64_t n, const T *b, int64_t m, int64_t dim,          \
                       int64_t window, T *buf)                                             \
    {                                                                                      \
        /* a window beyond max(n, m) changes nothing: clamp it so i + w cannot overflow */ \
        int64_t w = (window < 0 || window > (n > m ? n : m)) ? (n > m ? n : m) : window;   \
        int64_t diff = n > m ? n - m : m - n;                                              \
        if (w < diff)                                                                      \
            w = diff;                                                                      \
        T *prev = buf, *cur = buf + (m + 1);                                               \
        for (int64_t j = 0; j <= m; j++)                                                   \
            prev[j] = INF;                                                                 \
        prev[0] = 0;                                                                       \
        for (int64_t i = 1; i <= n; i++) {                                                 \
            int64_t jlo = i - w > 1 ? i - w : 1, jhi = i + w < m ? i + w : m;              \
            cur[jlo - 1] = INF;                                                            \
            if (jhi < m)                                                                   \
                cur[jhi + 1] = INF;                                                        \
            const T *x = a + (i - 1) * dim;                                                \
            T left = INF;                                                                  \
            for (int64_t j = jlo; j <= jhi; j++) {                                         \
                const T *y = b + (j - 1) * dim;                                            \
                T cost;                                                                    \
                if (dim == 1) {                                                            \
                    cost = x[0] > y[0] ? x[0] - y[0] : y[0] - x[0];                        \
                } else {                                                                   \
                    T s = 0;                                                               \
                    for (int64_t k = 0; k < dim; k++)                                      \
                        s += (x[k] - y[k]) * (x[k] - y[k]);                                \
                    cost = SQRT(s);                                                        \
                }                                                                          \
                T best = prev[j - 1] < prev[j] ? prev[j - 1] : prev[j];                    \
                best = left < best ? left : best;                                          \
                left = cost + best;                                                        \
                cur[j] = left;                                                             \
            }                                                                              \
            T *tmp = prev;                                                                 \
            prev = cur;                                                                    \
            cur = tmp;                                                                     \
        }                                                                                  \
        return prev[m];                                                                    \
    }
DEFINE_DTW(float, f32, sqrtf, INFINITY)
DEFINE_DTW(double, f64, sqrt, (double)INFINITY)

/* ------------------------------------------------------------------------------------
 * Hamming on packed bits against train rows stored 8 at a time, word-major
 * (Yt[(jb * w + k) * 8 + lane] = word k of row 8 jb + lane): one 512-bit register holds
 * word k of 8 train rows, so a query word is broadcast, XORed and counted (VPOPCNTQ)
 * against 8 rows at once with no horizontal sums. 4 queries share every load. Without
 * VPOPCNTQ (and at the avx2 level) a nibble-lookup popcount does the same on 256 bits.
 * ------------------------------------------------------------------------------------ */
static void hamming_t8_generic(const uint64_t *X, int64_t nx, const uint64_t *Yt,
                               int64_t ny, int64_t w, int32_t *out, int64_t ldo)
{
    const int64_t nyb = (ny + 7) / 8;
    for (int64_t i = 0; i < nx; i++)
        for (int64_t jb = 0; jb < nyb; jb++) {
            int64_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            const uint64_t *yb = Yt + jb * w * 8;
            for (int64_t k = 0; k < w; k++)
                for (int l = 0; l < 8; l++)
                    acc[l] += __builtin_popcountll(X[i * w + k] ^ yb[k * 8 + l]);
            for (int l = 0; l < 8 && jb * 8 + l < ny; l++)
                out[i * ldo + jb * 8 + l] = (int32_t)acc[l];
        }
}

#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX2
#include <immintrin.h>
/* AVX2 (no VPOPCNTQ): the popcount of each byte from a 16-entry nibble table (PSHUFB),
 * the byte counts summed by PSADBW (Mula, Kurz & Lemire, "Faster Population Counts Using
 * AVX2 Instructions", 2018). One 256-bit vector holds word k of 4 train rows (one row a
 * 64-bit lane), so the lane sums are the distances. Two savings over counting each
 * x ^ y afresh:
 * - the nibbles of x ^ y are the nibbles of x XOR the nibbles of y, so each train vector
 *   is split into nibbles once for 8 queries, and each query word once (into a small
 *   buffer, broadcast from memory): a query-vector pair costs 2 XOR, 2 PSHUFB, 2 byte
 *   additions;
 * - the per-byte counts (at most 8 a word) accumulate in bytes over up to 31 words
 *   before one PSADBW.
 * 8 queries x 4 rows take 8 accumulators, the nibbles of y 2, the table and the nibble
 * mask 2: the 16 ymm registers of AVX2. */
#define HAM_QB 8  /* queries a block */
#define HAM_KC 31 /* words a byte accumulator takes (31 * 8 < 256) */

static void hamming_t8_avx2(
    const uint64_t *X, int64_t nx, const uint64_t *Yt, int64_t ny, int64_t w, int32_t *out,
    int64_t ldo)
{
    const int64_t nyb = (ny + 7) / 8;
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
    const uint64_t lo4 = 0x0f0f0f0f0f0f0f0full;
    /* xs[kk][q][0 / 1]: low / high nibbles of word k0 + kk of query q (0 for absent ones),
     * broadcast (so that the XOR takes it as a memory operand: no register) */
    __m256i xs[HAM_KC][HAM_QB][2];
    for (int64_t i0 = 0; i0 < nx; i0 += HAM_QB) {
        const int64_t nq = nx - i0 < HAM_QB ? nx - i0 : HAM_QB;
        for (int64_t k0 = 0; k0 < w; k0 += HAM_KC) {
            const int64_t kc = w - k0 < HAM_KC ? w - k0 : HAM_KC;
            for (int64_t kk = 0; kk < kc; kk++)
                for (int q = 0; q < HAM_QB; q++) {
                    uint64_t x = q < nq ? X[(i0 + q) * w + k0 + kk] : 0;
                    xs[kk][q][0] = _mm256_set1_epi64x((long long)(x & lo4));
                    xs[kk][q][1] = _mm256_set1_epi64x((long long)((x >> 4) & lo4));
                }
            for (int64_t jb = 0; jb < nyb; jb++) {
                const uint64_t *yb = Yt + jb * w * 8 + k0 * 8;
                for (int h = 0; h < 2; h++) {
                    int64_t left = ny - jb * 8 - h * 4; /* rows of this half */
                    if (left <= 0)
                        break;
                    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0,
                            a5 = a0, a6 = a0, a7 = a0;
                    for (int64_t kk = 0; kk < kc; kk++) {
                        __m256i y = _mm256_loadu_si256((const __m256i *)(yb + kk * 8 + h * 4));
                        __m256i ylo = _mm256_and_si256(y, low);
                        __m256i yhi = _mm256_and_si256(_mm256_srli_epi16(y, 4), low);
                        const __m256i(*xq)[2] = xs[kk];
#define HAM_Q(A, Q)                                                                        \
    A = _mm256_add_epi8(                                                                   \
        A, _mm256_add_epi8(                                                                \
               _mm256_shuffle_epi8(                                                        \
                   lut, _mm256_xor_si256(ylo, xq[Q][0])),                                  \
               _mm256_shuffle_epi8(                                                        \
                   lut, _mm256_xor_si256(yhi, xq[Q][1]))));
                        HAM_Q(a0, 0) HAM_Q(a1, 1) HAM_Q(a2, 2) HAM_Q(a3, 3)
                        HAM_Q(a4, 4) HAM_Q(a5, 5) HAM_Q(a6, 6) HAM_Q(a7, 7)
#undef HAM_Q
                    }
                    const __m256i acc[HAM_QB] = {a0, a1, a2, a3, a4, a5, a6, a7};
                    for (int q = 0; q < nq; q++) {
                        __m256i s = _mm256_sad_epu8(acc[q], _mm256_setzero_si256());
                        __m128i c = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(s, pick));
                        int32_t v[4];
                        _mm_storeu_si128((__m128i *)v, c);
                        int32_t *o = out + (i0 + q) * ldo + jb * 8 + h * 4;
                        for (int l = 0; l < 4 && l < left; l++)
                            o[l] = k0 ? o[l] + v[l] : v[l];
                    }
                }
            }
        }
    }
}
#endif

#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"))) static void hamming_t8_avx512(
    const uint64_t *X, int64_t nx, const uint64_t *Yt, int64_t ny, int64_t w, int32_t *out,
    int64_t ldo)
{
    const int64_t nyb = (ny + 7) / 8;
    int64_t i = 0;
    for (; i + 4 <= nx; i += 4) {
        const uint64_t *x0 = X + i * w, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
        for (int64_t jb = 0; jb < nyb; jb++) {
            const uint64_t *yb = Yt + jb * w * 8;
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t k = 0; k < w; k++) {
                __m512i y = _mm512_loadu_si512((const void *)(yb + k * 8));
                __m512i q0 = _mm512_set1_epi64((long long)x0[k]);
                __m512i q1 = _mm512_set1_epi64((long long)x1[k]);
                __m512i q2 = _mm512_set1_epi64((long long)x2[k]);
                __m512i q3 = _mm512_set1_epi64((long long)x3[k]);
                a0 = _mm512_add_epi64(a0, _mm512_popcnt_epi64(_mm512_xor_si512(y, q0)));
                a1 = _mm512_add_epi64(a1, _mm512_popcnt_epi64(_mm512_xor_si512(y, q1)));
                a2 = _mm512_add_epi64(a2, _mm512_popcnt_epi64(_mm512_xor_si512(y, q2)));
                a3 = _mm512_add_epi64(a3, _mm512_popcnt_epi64(_mm512_xor_si512(y, q3)));
            }
            int32_t *o = out + i * ldo + jb * 8;
            int64_t left = ny - jb * 8; /* the last group may hold fewer than 8 rows */
            __mmask8 keep = left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1u);
            _mm256_mask_storeu_epi32(o, keep, _mm512_cvtepi64_epi32(a0));
            _mm256_mask_storeu_epi32(o + ldo, keep, _mm512_cvtepi64_epi32(a1));
            _mm256_mask_storeu_epi32(o + 2 * ldo, keep, _mm512_cvtepi64_epi32(a2));
            _mm256_mask_storeu_epi32(o + 3 * ldo, keep, _mm512_cvtepi64_epi32(a3));
        }
    }
    if (i < nx)
        hamming_t8_generic(X + i * w, nx - i, Yt, ny, w, out + i * ldo, ldo);
}

static int have_vpopcntdq(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
                 && __builtin_cpu_supports("avx512vpopcntdq");
    }
    return cached;
}
#endif

void fastml_hamming_packed_t8(const uint64_t *X, int64_t nx, const uint64_t *Yt, int64_t ny,
                              int64_t w, int32_t *out, int64_t ldo)
{
#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
    if (have_vpopcntdq()) {
        hamming_t8_avx512(X, nx, Yt, ny, w, out, ldo);
        return;
    }
#endif
#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX2
    hamming_t8_avx2(X, nx, Yt, ny, w, out, ldo);
#else
    hamming_t8_generic(X, nx, Yt, ny, w, out, ldo);
#endif
}

/* The first j < n with row[j] + add[j] < thr (add may be NULL), or n: blocks of 16 are
 * screened with a vectorised minimum, so the kNN heap pass only branches on the rare
 * blocks that hold a candidate. */
#define DEFINE_FIRST_BELOW(T, SFX)                                                         \
    int64_t fastml_first_below_##SFX(const T *row, const T *add, int64_t n,  \
                                                   T thr)                                  \
    {                                                                                      \
        int64_t j0 = 0;                                                                    \
        for (; j0 + 16 <= n; j0 += 16) {                                                   \
            T mn = row[j0] + (add ? add[j0] : 0);                                          \
            if (add) {                                                                     \
                FASTML_PRAGMA(omp simd reduction(min : mn))                                \
                for (int j = 0; j < 16; j++) {                                             \
                    T v = row[j0 + j] + add[j0 + j];                                       \
                    mn = v < mn ? v : mn;                                                  \
                }                                                                          \
            } else {                                                                       \
                FASTML_PRAGMA(omp simd reduction(min : mn))                                \
                for (int j = 0; j < 16; j++)                                               \
                    mn = row[j0 + j] < mn ? row[j0 + j] : mn;                              \
            }                                                                              \
            if (mn < thr)                                                                  \
                break;                                                                     \
        }                                                                                  \
        for (int64_t j = j0; j < n; j++)                                                   \
            if (row[j] + (add ? add[j] : 0) < thr)                                         \
                return j;                                                                  \
        return n;                                                                          \
    }
DEFINE_FIRST_BELOW(float, f32)
DEFINE_FIRST_BELOW(double, f64)

/* ------------------------------------------------------------------------------------
 * The squared Euclidean distance of one pair, summed in double whatever the input type:
 * the exact value the Euclidean k-NN and radius searches rank by and decide with (their
 * GEMM pass only chooses which pairs to evaluate). Several accumulators hide the FMA
 * latency; their order is fixed per level, so a pair always gives the same bits. The sum
 * runs over chunks of 1 KB of each row (sqdist_part_*), added in order: the bounded form
 * (fastml_sqdist_list_*) stops after the chunk whose running sum exceeds its bound, and
 * a pair evaluated whole gives the same bits either way.
 * ------------------------------------------------------------------------------------ */
#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
static double sqdist_part_f32(const float *x, const float *y, int64_t d)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 32 <= d; k += 32) {
        __m512d x0 = _mm512_cvtps_pd(_mm256_loadu_ps(x + k));
        __m512d x1 = _mm512_cvtps_pd(_mm256_loadu_ps(x + k + 8));
        __m512d x2 = _mm512_cvtps_pd(_mm256_loadu_ps(x + k + 16));
        __m512d x3 = _mm512_cvtps_pd(_mm256_loadu_ps(x + k + 24));
        __m512d t0 = _mm512_sub_pd(x0, _mm512_cvtps_pd(_mm256_loadu_ps(y + k)));
        __m512d t1 = _mm512_sub_pd(x1, _mm512_cvtps_pd(_mm256_loadu_ps(y + k + 8)));
        __m512d t2 = _mm512_sub_pd(x2, _mm512_cvtps_pd(_mm256_loadu_ps(y + k + 16)));
        __m512d t3 = _mm512_sub_pd(x3, _mm512_cvtps_pd(_mm256_loadu_ps(y + k + 24)));
        a0 = _mm512_fmadd_pd(t0, t0, a0);
        a1 = _mm512_fmadd_pd(t1, t1, a1);
        a2 = _mm512_fmadd_pd(t2, t2, a2);
        a3 = _mm512_fmadd_pd(t3, t3, a3);
    }
    for (; k + 8 <= d; k += 8) {
        __m512d t = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + k)),
                                  _mm512_cvtps_pd(_mm256_loadu_ps(y + k)));
        a0 = _mm512_fmadd_pd(t, t, a0);
    }
    if (k < d) {
        __mmask8 m = (__mmask8)((1u << (d - k)) - 1u);
        __m512d t = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + k)),
                                  _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, y + k)));
        a1 = _mm512_fmadd_pd(t, t, a1);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
}

static double sqdist_part_f64(const double *x, const double *y, int64_t d)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 32 <= d; k += 32) {
        __m512d t0 = _mm512_sub_pd(_mm512_loadu_pd(x + k), _mm512_loadu_pd(y + k));
        __m512d t1 = _mm512_sub_pd(_mm512_loadu_pd(x + k + 8), _mm512_loadu_pd(y + k + 8));
        __m512d t2 = _mm512_sub_pd(_mm512_loadu_pd(x + k + 16), _mm512_loadu_pd(y + k + 16));
        __m512d t3 = _mm512_sub_pd(_mm512_loadu_pd(x + k + 24), _mm512_loadu_pd(y + k + 24));
        a0 = _mm512_fmadd_pd(t0, t0, a0);
        a1 = _mm512_fmadd_pd(t1, t1, a1);
        a2 = _mm512_fmadd_pd(t2, t2, a2);
        a3 = _mm512_fmadd_pd(t3, t3, a3);
    }
    for (; k + 8 <= d; k += 8) {
        __m512d t = _mm512_sub_pd(_mm512_loadu_pd(x + k), _mm512_loadu_pd(y + k));
        a0 = _mm512_fmadd_pd(t, t, a0);
    }
    if (k < d) {
        __mmask8 m = (__mmask8)((1u << (d - k)) - 1u);
        __m512d t = _mm512_sub_pd(_mm512_maskz_loadu_pd(m, x + k), _mm512_maskz_loadu_pd(m, y + k));
        a1 = _mm512_fmadd_pd(t, t, a1);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
}
#elif FASTML_X86 && FASTML_ISA_LEVEL == FASTML_LEVEL_AVX2
static inline double hsum256d(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static double sqdist_part_f32(const float *x, const float *y, int64_t d)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 16 <= d; k += 16) {
        __m256d t0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + k)),
                                   _mm256_cvtps_pd(_mm_loadu_ps(y + k)));
        __m256d t1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + k + 4)),
                                   _mm256_cvtps_pd(_mm_loadu_ps(y + k + 4)));
        __m256d t2 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + k + 8)),
                                   _mm256_cvtps_pd(_mm_loadu_ps(y + k + 8)));
        __m256d t3 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + k + 12)),
                                   _mm256_cvtps_pd(_mm_loadu_ps(y + k + 12)));
        a0 = _mm256_fmadd_pd(t0, t0, a0);
        a1 = _mm256_fmadd_pd(t1, t1, a1);
        a2 = _mm256_fmadd_pd(t2, t2, a2);
        a3 = _mm256_fmadd_pd(t3, t3, a3);
    }
    double s = hsum256d(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    for (; k < d; k++) {
        double t = (double)x[k] - (double)y[k];
        s += t * t;
    }
    return s;
}

static double sqdist_part_f64(const double *x, const double *y, int64_t d)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 16 <= d; k += 16) {
        __m256d t0 = _mm256_sub_pd(_mm256_loadu_pd(x + k), _mm256_loadu_pd(y + k));
        __m256d t1 = _mm256_sub_pd(_mm256_loadu_pd(x + k + 4), _mm256_loadu_pd(y + k + 4));
        __m256d t2 = _mm256_sub_pd(_mm256_loadu_pd(x + k + 8), _mm256_loadu_pd(y + k + 8));
        __m256d t3 = _mm256_sub_pd(_mm256_loadu_pd(x + k + 12), _mm256_loadu_pd(y + k + 12));
        a0 = _mm256_fmadd_pd(t0, t0, a0);
        a1 = _mm256_fmadd_pd(t1, t1, a1);
        a2 = _mm256_fmadd_pd(t2, t2, a2);
        a3 = _mm256_fmadd_pd(t3, t3, a3);
    }
    double s = hsum256d(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    for (; k < d; k++) {
        double t = x[k] - y[k];
        s += t * t;
    }
    return s;
}
#else
#define DEFINE_SQDIST(T, SFX)                                                              \
    static double sqdist_part_##SFX(const T *x, const T *y, int64_t d)                     \
    {                                                                                      \
        double a[4] = {0, 0, 0, 0};                                                        \
        int64_t k = 0;                                                                     \
        for (; k + 4 <= d; k += 4)                                                         \
            for (int l = 0; l < 4; l++) {                                                  \
                double t = (double)x[k + l] - (double)y[k + l];                            \
                a[l] += t * t;                                                             \
            }                                                                              \
        double s = (a[0] + a[1]) + (a[2] + a[3]);                                          \
        for (; k < d; k++) {                                                               \
            double t = (double)x[k] - (double)y[k];                                        \
            s += t * t;                                                                    \
        }                                                                                  \
        return s;                                                                          \
    }
DEFINE_SQDIST(float, f32)
DEFINE_SQDIST(double, f64)
#endif

/* ------------------------------------------------------------------------------------
 * The bound screen of the projected Euclidean search (fastml.metrics._knn): filter rows
 * of q floats, the train ones packed in groups of 16 rows, feature-major
 * (Ft[(g * q + k) * 16 + l] = row 16 g + l, feature k; fadd of a padding row is +inf),
 * so that one 16-float vector holds feature k of 16 rows. For every query i < nq and
 * train row j of groups [0, ng), v = fadd[j] - 2 <Qa_i, F_j> (an FMA accumulation, no
 * distance block written) is compared with thr[i]: the rows with v < thr[i] are appended,
 * in increasing j, to the query's list (j0 + j into cj[i * cap + ...], v into cv[...],
 * count in cnt[i]; cap >= 16 ng). 8 queries x 32 rows of accumulators at avx512 (16 of
 * the 32 registers), 4 x 16 at avx2, portable C at the baseline.
 * ------------------------------------------------------------------------------------ */
/* out != NULL: every v stored at out[i * ldo + 16 g + l] instead (thr, cj, cv, cnt unused). */
static void lb_screen_generic(const float *Qa, int64_t nq, int64_t q, const float *Ft,
                              int64_t ng, const float *fadd, const float *thr, int64_t j0,
                              int32_t *cj, float *cv, int64_t cap, int64_t *cnt, float *out,
                              int64_t ldo)
{
    for (int64_t i = 0; i < nq; i++) {
        const float *x = Qa + i * q;
        for (int64_t g = 0; g < ng; g++) {
            float acc[16] = {0};
            const float *fg = Ft + g * q * 16;
            for (int64_t k = 0; k < q; k++)
                for (int l = 0; l < 16; l++)
                    acc[l] += x[k] * fg[k * 16 + l];
            for (int l = 0; l < 16; l++) {
                float v = fadd[g * 16 + l] - 2 * acc[l];
                if (out) {
                    out[i * ldo + g * 16 + l] = v;
                } else if (v < thr[i]) {
                    cj[i * cap + cnt[i]] = (int32_t)(j0 + g * 16 + l);
                    cv[i * cap + cnt[i]] = v;
                    cnt[i]++;
                }
            }
        }
    }
}

#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
static inline void lb_emit16(__m512 v, float t, int64_t j, int64_t i, int32_t *cj,
                             float *cv, int64_t cap, int64_t *cnt)
{
    __mmask16 mk = _mm512_cmp_ps_mask(v, _mm512_set1_ps(t), _CMP_LT_OQ);
    if (mk) {
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                               14, 15);
        int64_t c = cnt[i];
        _mm512_mask_compressstoreu_ps(cv + i * cap + c, mk, v);
        _mm512_mask_compressstoreu_epi32(cj + i * cap + c, mk,
                                         _mm512_add_epi32(iota, _mm512_set1_epi32((int)j)));
        cnt[i] = c + __builtin_popcount((unsigned)mk);
    }
}

/* one 16-row vector of bounds: appended to the query's list, or stored (out != NULL) */
static inline void lb_put16(__m512 v, const float *thr, int64_t j, int64_t i, int32_t *cj,
                            float *cv, int64_t cap, int64_t *cnt, float *out, int64_t ldo)
{
    if (out)
        _mm512_storeu_ps(out + i * ldo + j, v);
    else
        lb_emit16(v, thr[i], j, i, cj, cv, cap, cnt);
}

static inline __attribute__((always_inline)) void lb_screen_avx512(
    const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng, const float *fadd,
    const float *thr, int64_t j0, int32_t *cj, float *cv, int64_t cap, int64_t *cnt,
    float *out, int64_t ldo)
{
    const __m512 m2 = _mm512_set1_ps(-2.0f);
    if (out)
        j0 = 0;
    for (int64_t i0 = 0; i0 < nq; i0 += 8) {
        int64_t ni = nq - i0 < 8 ? nq - i0 : 8;
        const float *x[8];
        for (int a = 0; a < 8; a++)
            x[a] = Qa + (i0 + (a < ni ? a : 0)) * q;
        int64_t g = 0;
        for (; g + 2 <= ng; g += 2) {
            const float *f0 = Ft + g * q * 16, *f1 = f0 + q * 16;
            __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
                   c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00,
                   c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
            for (int64_t k = 0; k < q; k++) {
                __m512 y0 = _mm512_loadu_ps(f0 + k * 16), y1 = _mm512_loadu_ps(f1 + k * 16);
                __m512 b;
#define LB_STEP(A, C0, C1)                                                                 \
    b = _mm512_set1_ps(x[A][k]);                                                           \
    C0 = _mm512_fmadd_ps(b, y0, C0);                                                       \
    C1 = _mm512_fmadd_ps(b, y1, C1);
                LB_STEP(0, c00, c01)
                LB_STEP(1, c10, c11)
                LB_STEP(2, c20, c21)
                LB_STEP(3, c30, c31)
                LB_STEP(4, c40, c41)
                LB_STEP(5, c50, c51)
                LB_STEP(6, c60, c61)
                LB_STEP(7, c70, c71)
#undef LB_STEP
            }
            __m512 fa0 = _mm512_loadu_ps(fadd + g * 16), fa1 = _mm512_loadu_ps(fadd + g * 16 + 16);
            __m512 acc[16] = {c00, c01, c10, c11, c20, c21, c30, c31,
                              c40, c41, c50, c51, c60, c61, c70, c71};
            for (int64_t a = 0; a < ni; a++) {
                lb_put16(_mm512_fmadd_ps(acc[2 * a], m2, fa0), thr, j0 + g * 16, i0 + a, cj,
                         cv, cap, cnt, out, ldo);
                lb_put16(_mm512_fmadd_ps(acc[2 * a + 1], m2, fa1), thr, j0 + g * 16 + 16,
                         i0 + a, cj, cv, cap, cnt, out, ldo);
            }
        }
        if (g < ng) {
            const float *f0 = Ft + g * q * 16;
            __m512 acc[8];
            for (int a = 0; a < 8; a++)
                acc[a] = _mm512_setzero_ps();
            for (int64_t k = 0; k < q; k++) {
                __m512 y0 = _mm512_loadu_ps(f0 + k * 16);
                for (int a = 0; a < 8; a++)
                    acc[a] = _mm512_fmadd_ps(_mm512_set1_ps(x[a][k]), y0, acc[a]);
            }
            __m512 fa0 = _mm512_loadu_ps(fadd + g * 16);
            for (int64_t a = 0; a < ni; a++)
                lb_put16(_mm512_fmadd_ps(acc[a], m2, fa0), thr, j0 + g * 16, i0 + a, cj, cv,
                         cap, cnt, out, ldo);
        }
    }
}

void fastml_lb_screen_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng,
                          const float *fadd, const float *thr, int64_t j0, int32_t *cj,
                          float *cv, int64_t cap, int64_t *cnt)
{
    lb_screen_avx512(Qa, nq, q, Ft, ng, fadd, thr, j0, cj, cv, cap, cnt, NULL, 0);
}

void fastml_lb_bounds_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng,
                          const float *fadd, float *out, int64_t ldo)
{
    lb_screen_avx512(Qa, nq, q, Ft, ng, fadd, NULL, 0, NULL, NULL, 0, NULL, out, ldo);
}

int64_t fastml_below_f32(const float *v, int64_t n, float thr, int64_t j0, int32_t *idx,
                         float *val)
{
    const __m512 t = _mm512_set1_ps(thr);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                           15);
    int64_t c = 0, j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 x = _mm512_loadu_ps(v + j);
        __mmask16 mk = _mm512_cmp_ps_mask(x, t, _CMP_LT_OQ);
        if (mk) {
            _mm512_mask_compressstoreu_ps(val + c, mk, x);
            _mm512_mask_compressstoreu_epi32(idx + c, mk,
                                             _mm512_add_epi32(iota, _mm512_set1_epi32((int)(j0 + j))));
            c += __builtin_popcount((unsigned)mk);
        }
    }
    for (; j < n; j++)
        if (v[j] < thr) {
            idx[c] = (int32_t)(j0 + j);
            val[c++] = v[j];
        }
    return c;
}
#elif FASTML_X86 && FASTML_ISA_LEVEL == FASTML_LEVEL_AVX2
static inline void lb_emit8(__m256 v, float t, int64_t j, int64_t i, int32_t *cj, float *cv,
                            int64_t cap, int64_t *cnt)
{
    int mk = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(t), _CMP_LT_OQ));
    if (mk) {
        float vs[8];
        _mm256_storeu_ps(vs, v);
        int64_t c = cnt[i];
        for (int l = 0; l < 8; l++)
            if (mk & (1 << l)) {
                cj[i * cap + c] = (int32_t)(j + l);
                cv[i * cap + c] = vs[l];
                c++;
            }
        cnt[i] = c;
    }
}

static inline void lb_put8(__m256 v, const float *thr, int64_t j, int64_t i, int32_t *cj,
                           float *cv, int64_t cap, int64_t *cnt, float *out, int64_t ldo)
{
    if (out)
        _mm256_storeu_ps(out + i * ldo + j, v);
    else
        lb_emit8(v, thr[i], j, i, cj, cv, cap, cnt);
}

static inline __attribute__((always_inline)) void lb_screen_avx2(
    const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng, const float *fadd,
    const float *thr, int64_t j0, int32_t *cj, float *cv, int64_t cap, int64_t *cnt,
    float *out, int64_t ldo)
{
    const __m256 m2 = _mm256_set1_ps(-2.0f);
    if (out)
        j0 = 0;
    for (int64_t i0 = 0; i0 < nq; i0 += 4) {
        int64_t ni = nq - i0 < 4 ? nq - i0 : 4;
        const float *x0 = Qa + i0 * q, *x1 = Qa + (i0 + (ni > 1 ? 1 : 0)) * q,
                    *x2 = Qa + (i0 + (ni > 2 ? 2 : 0)) * q,
                    *x3 = Qa + (i0 + (ni > 3 ? 3 : 0)) * q;
        for (int64_t g = 0; g < ng; g++) {
            const float *f0 = Ft + g * q * 16;
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
                   c21 = c00, c30 = c00, c31 = c00;
            for (int64_t k = 0; k < q; k++) {
                __m256 y0 = _mm256_loadu_ps(f0 + k * 16), y1 = _mm256_loadu_ps(f0 + k * 16 + 8);
                __m256 b = _mm256_broadcast_ss(x0 + k);
                c00 = _mm256_fmadd_ps(b, y0, c00);
                c01 = _mm256_fmadd_ps(b, y1, c01);
                b = _mm256_broadcast_ss(x1 + k);
                c10 = _mm256_fmadd_ps(b, y0, c10);
                c11 = _mm256_fmadd_ps(b, y1, c11);
                b = _mm256_broadcast_ss(x2 + k);
                c20 = _mm256_fmadd_ps(b, y0, c20);
                c21 = _mm256_fmadd_ps(b, y1, c21);
                b = _mm256_broadcast_ss(x3 + k);
                c30 = _mm256_fmadd_ps(b, y0, c30);
                c31 = _mm256_fmadd_ps(b, y1, c31);
            }
            __m256 fa0 = _mm256_loadu_ps(fadd + g * 16), fa1 = _mm256_loadu_ps(fadd + g * 16 + 8);
            __m256 acc[8] = {c00, c01, c10, c11, c20, c21, c30, c31};
            for (int64_t a = 0; a < ni; a++) {
                lb_put8(_mm256_fmadd_ps(acc[2 * a], m2, fa0), thr, j0 + g * 16, i0 + a, cj,
                        cv, cap, cnt, out, ldo);
                lb_put8(_mm256_fmadd_ps(acc[2 * a + 1], m2, fa1), thr, j0 + g * 16 + 8,
                        i0 + a, cj, cv, cap, cnt, out, ldo);
            }
        }
    }
}

void fastml_lb_screen_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng,
                          const float *fadd, const float *thr, int64_t j0, int32_t *cj,
                          float *cv, int64_t cap, int64_t *cnt)
{
    lb_screen_avx2(Qa, nq, q, Ft, ng, fadd, thr, j0, cj, cv, cap, cnt, NULL, 0);
}

void fastml_lb_bounds_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng,
                          const float *fadd, float *out, int64_t ldo)
{
    lb_screen_avx2(Qa, nq, q, Ft, ng, fadd, NULL, 0, NULL, NULL, 0, NULL, out, ldo);
}

int64_t fastml_below_f32(const float *v, int64_t n, float thr, int64_t j0, int32_t *idx,
                         float *val)
{
    const __m256 t = _mm256_set1_ps(thr);
    int64_t c = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        int mk = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + j), t, _CMP_LT_OQ));
        while (mk) {
            int l = __builtin_ctz((unsigned)mk);
            idx[c] = (int32_t)(j0 + j + l);
            val[c++] = v[j + l];
            mk &= mk - 1;
        }
    }
    for (; j < n; j++)
        if (v[j] < thr) {
            idx[c] = (int32_t)(j0 + j);
            val[c++] = v[j];
        }
    return c;
}
#else
void fastml_lb_screen_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng,
                          const float *fadd, const float *thr, int64_t j0, int32_t *cj,
                          float *cv, int64_t cap, int64_t *cnt)
{
    lb_screen_generic(Qa, nq, q, Ft, ng, fadd, thr, j0, cj, cv, cap, cnt, NULL, 0);
}

void fastml_lb_bounds_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft, int64_t ng,
                          const float *fadd, float *out, int64_t ldo)
{
    lb_screen_generic(Qa, nq, q, Ft, ng, fadd, NULL, 0, NULL, NULL, 0, NULL, out, ldo);
}

int64_t fastml_below_f32(const float *v, int64_t n, float thr, int64_t j0, int32_t *idx,
                         float *val)
{
    int64_t c = 0;
    for (int64_t j = 0; j < n; j++)
        if (v[j] < thr) {
            idx[c] = (int32_t)(j0 + j);
            val[c++] = v[j];
        }
    return c;
}
#endif

/* Prefetch the rows of the next candidates while one is being summed: the exact stage of
 * the searches reads scattered training rows. */
/* Rows of at most this many bytes are summed in one part (see above). */
#define SQDIST_CHUNK_BYTES 1024

#define DEFINE_SQDIST_CHUNKED(T, SFX)                                                      \
    double fastml_sqdist_##SFX(const T *x, const T *y, int64_t d)                          \
    {                                                                                      \
        const int64_t w = SQDIST_CHUNK_BYTES / (int64_t)sizeof(T);                         \
        double s = 0.0;                                                                    \
        for (int64_t o = 0; o < d; o += w)                                                 \
            s += sqdist_part_##SFX(x + o, y + o, d - o < w ? d - o : w);                   \
        return s;                                                                          \
    }                                                                                      \
    /* out[c] = the squared distance of x and row idx[c] of F, or, once a running sum   \
     * exceeds bound, that partial sum (a lower bound of the whole, above bound). */     \
    void fastml_sqdist_list_##SFX(const T *x, const T *F, int64_t d, const int32_t *idx,   \
                                  int64_t n, double bound, double *out)                    \
    {                                                                                      \
        const int64_t w = SQDIST_CHUNK_BYTES / (int64_t)sizeof(T);                         \
        for (int64_t c = 0; c < n; c++) {                                                  \
            if (c + 1 < n) {                                                               \
                const char *p = (const char *)(F + (int64_t)idx[c + 1] * d);               \
                for (int64_t o = 0; o < d * (int64_t)sizeof(T); o += 64)                   \
                    __builtin_prefetch(p + o);                                             \
            }                                                                              \
            const T *y = F + (int64_t)idx[c] * d;                                          \
            double s = 0.0;                                                                \
            for (int64_t o = 0; o < d; o += w) {                                           \
                s += sqdist_part_##SFX(x + o, y + o, d - o < w ? d - o : w);               \
                if (s > bound)                                                             \
                    break;                                                                 \
            }                                                                              \
            out[c] = s;                                                                    \
        }                                                                                  \
    }
DEFINE_SQDIST_CHUNKED(float, f32)
DEFINE_SQDIST_CHUNKED(double, f64)
