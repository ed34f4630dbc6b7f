/* Hamming on packed bits, Minkowski with a general p and dynamic time warping; see
 * fastml_distances.h. (The feature-reduction distances, L1, Chebyshev, squared L2,
 * Hamming on values and Minkowski p = 3, 4, are tiles in pairwise.c.) */
#include <math.h>
#include <stdint.h>

#include "fastml_cpu.h"
#include "fastml_distances.h"

/* The reduction tiles of pairwise.c (the one definition of L1, Chebyshev, squared L2,
 * ...) are compiled into this extension too, for the kNN chunk loop. They are included
 * here rather than listed again in a .pyx "sources" line: setuptools compiles a listed
 * file to a single object path, and two extensions listing the same file in a parallel
 * build would write that object at the same time. */
#include "pairwise.c"

#define DEFINE_LP(T, SFX, POW, FABS)                                                       \
    FASTML_CLONES void fastml_tile_lp_##SFX(const T *X, int64_t nx, const T *Y, int64_t ny, \
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

#if FASTML_X86 && FASTML_ISA_LEVEL >= 1
#include <immintrin.h>
/* AVX2 (no VPOPCNTQ): the popcount of each byte from two 16-entry nibble tables (PSHUFB),
 * summed per 64-bit lane by PSADBW (Mula, Kurz & Lemire, "Faster Population Counts Using
 * AVX2 Instructions", 2018). Word k of the 8 train rows is two 256-bit vectors; one lane
 * is one row, so the lane sums are the distances. 4 queries share every load. */
static inline __m256i popcnt64x4_avx2(__m256i v, __m256i lut, __m256i low)
{
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    __m256i c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
    return _mm256_sad_epu8(c, _mm256_setzero_si256());
}

static void hamming_t8_avx2(
    const uint64_t *X, int64_t nx, const uint64_t *Yt, int64_t ny, int64_t w, int32_t *out,
    int64_t ldo)
{
    const int64_t nyb = (ny + 7) / 8;
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    int64_t i = 0;
    for (; i + 4 <= nx; i += 4) {
        const uint64_t *x0 = X + i * w, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
        for (int64_t jb = 0; jb < nyb; jb++) {
            const uint64_t *yb = Yt + jb * w * 8;
            __m256i a[4][2];
            for (int q = 0; q < 4; q++)
                a[q][0] = a[q][1] = _mm256_setzero_si256();
            for (int64_t k = 0; k < w; k++) {
                __m256i y0 = _mm256_loadu_si256((const __m256i *)(yb + k * 8));
                __m256i y1 = _mm256_loadu_si256((const __m256i *)(yb + k * 8 + 4));
                const uint64_t xs[4] = {x0[k], x1[k], x2[k], x3[k]};
                for (int q = 0; q < 4; q++) {
                    __m256i qv = _mm256_set1_epi64x((long long)xs[q]);
                    a[q][0] = _mm256_add_epi64(
                        a[q][0], popcnt64x4_avx2(_mm256_xor_si256(y0, qv), lut, low));
                    a[q][1] = _mm256_add_epi64(
                        a[q][1], popcnt64x4_avx2(_mm256_xor_si256(y1, qv), lut, low));
                }
            }
            int64_t left = ny - jb * 8; /* the last group may hold fewer than 8 rows */
            for (int q = 0; q < 4; q++) {
                int64_t v[8];
                _mm256_storeu_si256((__m256i *)v, a[q][0]);
                _mm256_storeu_si256((__m256i *)(v + 4), a[q][1]);
                int32_t *o = out + (i + q) * ldo + jb * 8;
                for (int l = 0; l < 8 && l < left; l++)
                    o[l] = (int32_t)v[l];
            }
        }
    }
    if (i < nx)
        hamming_t8_generic(X + i * w, nx - i, Yt, ny, w, out + i * ldo, ldo);
}
#endif

#if FASTML_X86 && FASTML_ISA_LEVEL >= 2
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
#if FASTML_X86 && FASTML_ISA_LEVEL >= 2
    if (have_vpopcntdq()) {
        hamming_t8_avx512(X, nx, Yt, ny, w, out, ldo);
        return;
    }
#endif
#if FASTML_X86 && FASTML_ISA_LEVEL >= 1
    hamming_t8_avx2(X, nx, Yt, ny, w, out, ldo);
#else
    hamming_t8_generic(X, nx, Yt, ny, w, out, ldo);
#endif
}

/* The first j < n with row[j] + add[j] < thr (add may be NULL), or n: blocks of 16 are
 * screened with a vectorised minimum, so the kNN heap pass only branches on the rare
 * blocks that hold a candidate. */
#define DEFINE_FIRST_BELOW(T, SFX)                                                         \
    FASTML_CLONES int64_t fastml_first_below_##SFX(const T *row, const T *add, int64_t n,  \
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
