/* Distances that are not feature reductions of fastml_pairwise.h (no Python API):
 * Hamming on bit-packed rows, Minkowski with a general p, dynamic time warping and
 * Levenshtein (bit-parallel, csrc/levenshtein.c).
 */
#ifndef FASTML_DISTANCES_H
#define FASTML_DISTANCES_H
#include <stdint.h>

#include "fastml_kernels.h"

/* Hamming on packed bits: out[i * ldo + j] = popcount(X[i] ^ Y[j]) (rows of w 64-bit
 * words) for j < ny, with the train rows Y stored in groups of 8, word-major:
 * Yt[(jb * w + k) * 8 + l] is word k of row 8 jb + l (zero rows pad the last group).
 * AVX-512 VPOPCNTQ when the CPU has it, an AVX2 nibble-lookup popcount at the avx2 level
 * and above otherwise, portable C at the baseline level. */
extern void fastml_hamming_packed_t8(const uint64_t *X, int64_t nx, const uint64_t *Yt, int64_t ny,
                              int64_t w, int32_t *out, int64_t ldo);

/* The first j < n with row[j] + add[j] < thr (add may be NULL: row[j] < thr), else n. */
extern int64_t fastml_first_below_f32(const float *row, const float *add, int64_t n, float thr);
extern int64_t fastml_first_below_f64(const double *row, const double *add, int64_t n, double thr);

/* sum_k (x[k] - y[k])^2 of one pair, accumulated in double (a fixed order per level). */
extern double fastml_sqdist_f32(const float *x, const float *y, int64_t d);
extern double fastml_sqdist_f64(const double *x, const double *y, int64_t d);

/* out[c] = fastml_sqdist(x, F + idx[c] * d, d) for c < n (the next row prefetched). */
extern void fastml_sqdist_list_f32(const float *x, const float *F, int64_t d,
                                   const int32_t *idx, int64_t n, double bound,
                                   double *out);
extern void fastml_sqdist_list_f64(const double *x, const double *F, int64_t d,
                                   const int32_t *idx, int64_t n, double bound,
                                   double *out);

/* The bound screen of the projected Euclidean search: for queries i < nq (filter rows Qa,
 * q floats each) and train rows j < 16 ng (packed in groups of 16, feature-major:
 * Ft[(g * q + k) * 16 + l]; fadd[j] = +inf for padding rows), every j with
 * v = fadd[j] - 2 <Qa_i, F_j> < thr[i] is appended (j0 + j to cj[i * cap + cnt[i]], v to
 * cv[...], cnt[i] incremented), in increasing j. cap >= 16 ng. */
extern void fastml_lb_screen_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft,
                                 int64_t ng, const float *fadd, const float *thr, int64_t j0,
                                 int32_t *cj, float *cv, int64_t cap, int64_t *cnt);

/* The same bounds, all stored: out[i * ldo + j] = fadd[j] - 2 <Qa_i, F_j> for j < 16 ng
 * (+inf for padding rows). ldo >= 16 ng. */
extern void fastml_lb_bounds_f32(const float *Qa, int64_t nq, int64_t q, const float *Ft,
                                 int64_t ng, const float *fadd, float *out, int64_t ldo);

/* The positions j < n with v[j] < thr, increasing: j0 + j to idx, v[j] to val; returns
 * their count (idx and val hold n entries at least). */
extern int64_t fastml_below_f32(const float *v, int64_t n, float thr, int64_t j0,
                                int32_t *idx, float *val);

/* out[i * ldo + j] = sum_k |X[i, k] - Y[j, k]|^p (no root; p >= 1). */
extern void fastml_tile_lp_f32(const float *X, int64_t nx, const float *Y, int64_t ny, int64_t d,
                        float *out, int64_t ldo, float p);
extern void fastml_tile_lp_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                        int64_t d, double *out, int64_t ldo, double p);

/* Dynamic time warping between a (n x dim) and b (m x dim), rows contiguous: the least
 * sum over a warping path of the Euclidean distances between matched frames, with the
 * path kept within |i - j| <= max(window, |n - m|) (window < 0: no limit). buf holds
 * 2 * (m + 1) values. n, m >= 1. */
extern float fastml_dtw_f32(const float *a, int64_t n, const float *b, int64_t m, int64_t dim,
                     int64_t window, float *buf);
extern double fastml_dtw_f64(const double *a, int64_t n, const double *b, int64_t m, int64_t dim,
                      int64_t window, double *buf);

/* ------------------------------------------------------------------------------------
 * Levenshtein distance (unit costs) between sequences of uint32 symbols.
 *
 * A pattern is built once per string (the bit masks of every symbol, 64 positions per
 * word) and then compared with many texts: fastml_lev_build, then fastml_lev_distance.
 * The scratch is caller-owned (fastml_lev_scratch_words(max_len) uint64 words, one per
 * thread), so no allocation happens in the loops.
 * ------------------------------------------------------------------------------------ */
typedef struct {
    const uint32_t *s; /* the pattern's symbols */
    int64_t m;         /* its length */
    int64_t nb;        /* 64-bit words per mask: ceil(m / 64) */
    uint64_t *ascii;   /* masks of symbols < 256: ascii[c * nb + b] */
    uint32_t *keys;    /* per word b: 128 hash slots keys[b * 128 + h] (0 = empty) */
    uint64_t *ext;     /* and their masks ext[b * 128 + h] */
    uint64_t *work;    /* 3 * nb words of work space (VP, VN, gathered masks) */
} fastml_lev_pattern;

extern int64_t fastml_lev_scratch_words(int64_t max_len);
extern void fastml_lev_build(fastml_lev_pattern *P, uint64_t *scratch, const uint32_t *s,
                      int64_t m);
extern int64_t fastml_lev_distance(fastml_lev_pattern *P, const uint32_t *t, int64_t n);
/* Up to FASTML_LEV_GROUP patterns of 1 .. 64 FASTML_LEV_GROUP_WORDS symbols each, compared
 * with a text all at once (SIMD lanes, as many per register as the level has: 8 x 64 bits
 * at avx512, 4 x 64 at avx2, 8 x 32 bits in 256 bits from avx2 up for patterns of <= 32
 * symbols, in passes over the text; the group is as slow as its longest pattern, so group
 * patterns of similar lengths):
 * fastml_lev_group_build (rows: the pattern indices, sequence r = sym[off[r] ..
 * off[r + 1])), then fastml_lev_group_distances gives res[l] for lanes l < n (res holds
 * FASTML_LEV_GROUP values). Scratch: fastml_lev_group_scratch_words() uint64 words. */
#define FASTML_LEV_GROUP 8
#define FASTML_LEV_GROUP_WORDS 16
typedef struct {
    fastml_lev_pattern p[FASTML_LEV_GROUP];
    int n;
    int64_t nbw;   /* words of the longest pattern */
    int64_t mmax;  /* symbols of the longest pattern */
    uint64_t *t8;  /* t8[(c * nbw + b) * GROUP + l]: word b of the mask of c < 256 in pattern l */
    uint32_t *t32; /* t32[c * GROUP + l]: the same as 32 bits (when mmax <= 32) */
} fastml_lev_group;

extern int64_t fastml_lev_group_scratch_words(void);
extern void fastml_lev_group_build(fastml_lev_group *G, uint64_t *scratch, const uint32_t *sym,
                            const int64_t *off, const int64_t *rows, int n);
extern void fastml_lev_group_distances(const fastml_lev_group *G, const uint32_t *t, int64_t len,
                                int64_t *res);

/* Wide groups of short patterns (1 .. 64 symbols, every symbol < 256): as many as a
 * vector has lanes of `bits` (8, 16, 32 or 64; fastml_lev_wide_lanes(bits) at this
 * level, at most 64), scored against up to 4 texts at once:
 * fastml_lev_wide_build (rows: pattern indices, sequence r = sym[off[r] .. off[r + 1]),
 * n <= lanes patterns, each of at most `bits` symbols; scratch of
 * fastml_lev_wide_scratch_bytes() bytes), then
 * fastml_lev_wide_distances(W, texts, lengths, nt <= 4, res): res[t * 64 + l] for the
 * lanes l < n. The texts are given as table offsets: min(symbol, 256) *
 * fastml_lev_wide_lanes(8) (the vector bytes) for each symbol. */
typedef struct {
    int n;
    int bits;
    int64_t m[64];        /* pattern lengths (1 in idle lanes) */
    unsigned char *tab;   /* 257 vectors: the masks of symbol c in every lane (256: none) */
} fastml_lev_wide;

extern int64_t fastml_lev_wide_lanes(int64_t bits);
extern int64_t fastml_lev_wide_scratch_bytes(void);
extern void fastml_lev_wide_build(fastml_lev_wide *W, unsigned char *scratch,
                                  const uint32_t *sym, const int64_t *off, const int64_t *rows,
                                  int n, int bits);
extern void fastml_lev_wide_distances(const fastml_lev_wide *W, const uint32_t *const *tx,
                                      const int64_t *tl, int nt, int64_t *res);

#endif
