/* Levenshtein distance, bit-parallel (Myers 1999, in the formulation of Hyyro 2003).
 *
 * Column j of the DP matrix D (pattern s of length m down, text t across) is kept as
 * two bit vectors of vertical differences, VP (D[i][j] - D[i-1][j] = +1) and VN (= -1);
 * one text symbol updates all m cells with a handful of word operations. Patterns
 * longer than 64 symbols use ceil(m / 64) words, with the horizontal difference at the
 * last row of a word carried into the next word (the "blocks" of Myers' paper).
 *
 * Before the DP the common prefix and suffix of the pair are skipped (they never change
 * the distance). Skipping a prefix of length p of the pattern means reading its masks
 * from bit p on, which is a shift of the prebuilt masks; bits above the shortened
 * pattern only ever influence higher bits (carries and shifts go upwards), so they are
 * harmless.
 *
 * Symbol masks: code points < 256 in a direct table, every other symbol in a per-word
 * open-addressing hash table of 128 slots (a word covers at most 64 distinct symbols).
 */
#include <string.h>

#include "fastml_cpu.h"
#include "fastml_distances.h"

#define HASH_SLOTS 128

static inline int64_t nblocks(int64_t m) { return (m + 63) / 64; }

int64_t fastml_lev_scratch_words(int64_t max_len)
{
    int64_t nb = nblocks(max_len > 0 ? max_len : 1);
    /* ascii + ext masks + keys (two uint32 per word) + work */
    return nb * 256 + nb * HASH_SLOTS + nb * HASH_SLOTS / 2 + 3 * nb + 8;
}

static inline uint32_t slot_of(uint32_t c) { return (c * 2654435761u) >> 25; }

void fastml_lev_build(fastml_lev_pattern *P, uint64_t *scratch, const uint32_t *s,
                      int64_t m)
{
    int64_t nb = nblocks(m > 0 ? m : 1);
    P->s = s;
    P->m = m;
    P->nb = nb;
    P->ascii = scratch;
    P->ext = scratch + nb * 256;
    P->keys = (uint32_t *)(scratch + nb * 256 + nb * HASH_SLOTS);
    P->work = scratch + nb * 256 + nb * HASH_SLOTS + nb * HASH_SLOTS / 2;
    memset(P->ascii, 0, (size_t)(nb * 256) * sizeof(uint64_t));
    memset(P->keys, 0, (size_t)(nb * HASH_SLOTS) * sizeof(uint32_t));
    for (int64_t i = 0; i < m; i++) {
        uint32_t c = s[i];
        int64_t b = i >> 6;
        uint64_t bit = (uint64_t)1 << (i & 63);
        if (c < 256) {
            P->ascii[(int64_t)c * nb + b] |= bit;
        } else {
            uint32_t *keys = P->keys + b * HASH_SLOTS;
            uint64_t *ext = P->ext + b * HASH_SLOTS;
            uint32_t h = slot_of(c);
            while (keys[h] != 0 && keys[h] != c)
                h = (h + 1) & (HASH_SLOTS - 1);
            if (keys[h] == 0) {
                keys[h] = c;
                ext[h] = 0;
            }
            ext[h] |= bit;
        }
    }
}

/* The mask of symbol c in word b of the full pattern. */
static inline uint64_t mask_of(const fastml_lev_pattern *P, uint32_t c, int64_t b)
{
    if (c < 256)
        return P->ascii[(int64_t)c * P->nb + b];
    const uint32_t *keys = P->keys + b * HASH_SLOTS;
    uint32_t h = slot_of(c);
    while (keys[h] != 0) {
        if (keys[h] == c)
            return P->ext[b * HASH_SLOTS + h];
        h = (h + 1) & (HASH_SLOTS - 1);
    }
    return 0;
}

/* One word of the pattern, m2 <= 64 symbols starting at bit `pre`. */
static int64_t lev_one_word(const fastml_lev_pattern *P, int64_t pre,
                                          int64_t m2, const uint32_t *t, int64_t n2)
{
    uint64_t VP = ~(uint64_t)0, VN = 0;
    const uint64_t last = (uint64_t)1 << (m2 - 1);
    int64_t score = m2;
    const int64_t nb = P->nb;
    const int64_t w0 = pre >> 6, sh = pre & 63;
    const int two = sh != 0 && w0 + 1 < nb;
    for (int64_t j = 0; j < n2; j++) {
        uint32_t c = t[j];
        uint64_t eq;
        if (c < 256) {
            const uint64_t *row = P->ascii + (int64_t)c * nb + w0;
            eq = row[0] >> sh;
            if (two)
                eq |= row[1] << (64 - sh);
        } else {
            eq = mask_of(P, c, w0) >> sh;
            if (two)
                eq |= mask_of(P, c, w0 + 1) << (64 - sh);
        }
        uint64_t X = eq | VN;
        uint64_t D0 = (((X & VP) + VP) ^ VP) | X;
        uint64_t HP = VN | ~(D0 | VP);
        uint64_t HN = VP & D0;
        score += (HP & last) != 0;
        score -= (HN & last) != 0;
        HP = (HP << 1) | 1;
        HN = HN << 1;
        VP = HN | ~(D0 | HP);
        VN = HP & D0;
    }
    return score;
}

/* Several words: pattern bits [pre, pre + m2), text t[0 .. n2). */
static int64_t lev_blocks(const fastml_lev_pattern *P, int64_t pre, int64_t m2,
                                        const uint32_t *t, int64_t n2)
{
    const int64_t nb = P->nb, nb2 = nblocks(m2);
    const int64_t w0 = pre >> 6, sh = pre & 63;
    uint64_t *VP = P->work, *VN = P->work + nb, *eqbuf = P->work + 2 * nb;
    const uint64_t lastbit = (uint64_t)1 << ((m2 - 1) & 63);
    int64_t score = m2;
    for (int64_t b = 0; b < nb2; b++) {
        VP[b] = ~(uint64_t)0;
        VN[b] = 0;
    }
    for (int64_t j = 0; j < n2; j++) {
        uint32_t c = t[j];
        const uint64_t *row;
        if (c < 256 && sh == 0) {
            row = P->ascii + (int64_t)c * nb + w0;
        } else {
            /* gather (and shift) the masks of this symbol for the used words */
            for (int64_t b = 0; b < nb2; b++) {
                int64_t w = w0 + b;
                uint64_t e = mask_of(P, c, w) >> sh;
                if (sh && w + 1 < nb)
                    e |= mask_of(P, c, w + 1) << (64 - sh);
                eqbuf[b] = e;
            }
            row = eqbuf;
        }
        /* hin: horizontal difference entering the word from above (+1 on row 0) */
        uint64_t hp_in = 1, hn_in = 0;
        for (int64_t b = 0; b < nb2; b++) {
            uint64_t Pv = VP[b], Mv = VN[b], eq = row[b];
            uint64_t Xv = eq | Mv;
            eq |= hn_in;
            uint64_t Xh = (((eq & Pv) + Pv) ^ Pv) | eq;
            uint64_t Ph = Mv | ~(Xh | Pv);
            uint64_t Mh = Pv & Xh;
            uint64_t hibit = b == nb2 - 1 ? lastbit : ((uint64_t)1 << 63);
            uint64_t hp_out = (Ph & hibit) != 0, hn_out = (Mh & hibit) != 0;
            Ph = (Ph << 1) | hp_in;
            Mh = (Mh << 1) | hn_in;
            VP[b] = Mh | ~(Xv | Ph);
            VN[b] = Ph & Xv;
            hp_in = hp_out;
            hn_in = hn_out;
        }
        score += (int64_t)hp_in - (int64_t)hn_in;
    }
    return score;
}

int64_t fastml_lev_distance(fastml_lev_pattern *P, const uint32_t *t, int64_t n)
{
    const uint32_t *s = P->s;
    int64_t m = P->m;
    int64_t lim = m < n ? m : n;
    int64_t pre = 0;
    while (pre < lim && s[pre] == t[pre])
        pre++;
    int64_t suf = 0;
    while (suf < lim - pre && s[m - 1 - suf] == t[n - 1 - suf])
        suf++;
    int64_t m2 = m - pre - suf, n2 = n - pre - suf;
    if (m2 == 0)
        return n2;
    if (n2 == 0)
        return m2;
    if (m2 <= 64)
        return lev_one_word(P, pre, m2, t + pre, n2);
    return lev_blocks(P, pre, m2, t + pre, n2);
}

/* ------------------------------------------------------------------------------------
 * A group of FASTML_LEV_GROUP (8) patterns (1 <= m <= 64 FASTML_LEV_GROUP_WORDS) against
 * one text, in SIMD lanes: lane l of a vector holds a VP / VN word of pattern l (GCC
 * vector extensions). Vectors are one register of the level this file is compiled for
 * (FASTML_VEC_BYTES; 64-bit lanes: 8 at avx512, 4 at avx2, 2 at the baseline), so the
 * group is scored in FASTML_LEV_GROUP / lanes passes over the text. (Eight 64-bit lanes
 * in 64-byte vectors at avx2 are two ymm registers per quantity and spill the 16-register
 * file.) When every pattern of a one-word group has at most 32 symbols, 32-bit lanes are
 * used: the whole group in one 256-bit vector at avx2 and at avx512 (a ymm instruction
 * does the work of a zmm one on 8 lanes, and CPUs that split 512-bit operations, or run
 * fewer of them per cycle, do it faster), two 128-bit passes at the baseline.
 * The masks of symbol c for the group's patterns are stored next to each other
 * (t8[(c * nbw + b) * 8 + l]; t32[c * 8 + l] for 32-bit lanes), so one vector load fetches
 * the lanes of a pass; symbols >= 256 go through each pattern's hash table. Every lane
 * reads the same text, so no lane idles; no prefix / suffix stripping here.
 * ------------------------------------------------------------------------------------ */
#define GRP FASTML_LEV_GROUP
#define LANES64 (FASTML_VEC_BYTES / 8 < GRP ? FASTML_VEC_BYTES / 8 : GRP)
#define LANES32 (FASTML_VEC_BYTES / 4 < GRP ? FASTML_VEC_BYTES / 4 : GRP)
/* 32-bit lanes (for groups of patterns of <= 32 symbols) on every level. */
#define USE32 (LANES32 >= LANES64)

typedef uint64_t u64v __attribute__((vector_size(8 * LANES64)));
typedef int64_t i64v __attribute__((vector_size(8 * LANES64)));
typedef uint32_t u32v __attribute__((vector_size(4 * LANES32)));
typedef int32_t i32v __attribute__((vector_size(4 * LANES32)));

int64_t fastml_lev_group_scratch_words(void)
{
    return GRP * fastml_lev_scratch_words(64 * FASTML_LEV_GROUP_WORDS)
           + 256 * GRP * FASTML_LEV_GROUP_WORDS + 256 * GRP / 2 + 8;
}

void fastml_lev_group_build(fastml_lev_group *G, uint64_t *scratch, const uint32_t *sym,
                            const int64_t *off, const int64_t *rows, int n)
{
    int64_t per = fastml_lev_scratch_words(64 * FASTML_LEV_GROUP_WORDS), nbw = 1, mmax = 1;
    G->n = n;
    for (int l = 0; l < GRP; l++) {
        if (l < n) {
            int64_t r = rows[l];
            fastml_lev_build(&G->p[l], scratch + l * per, sym + off[r], off[r + 1] - off[r]);
        } else { /* an idle lane: a 1-symbol pattern that matches nothing we read */
            fastml_lev_build(&G->p[l], scratch + l * per, sym, 0);
            G->p[l].m = 1;
        }
        nbw = G->p[l].nb > nbw ? G->p[l].nb : nbw;
        mmax = G->p[l].m > mmax ? G->p[l].m : mmax;
    }
    G->nbw = nbw;
    G->mmax = mmax;
    G->t8 = scratch + GRP * per;
    G->t32 = (uint32_t *)(G->t8 + 256 * GRP * nbw);
    for (int l = 0; l < GRP; l++) {
        const fastml_lev_pattern *P = &G->p[l];
        for (int c = 0; c < 256; c++)
            for (int64_t b = 0; b < nbw; b++)
                G->t8[((int64_t)c * nbw + b) * GRP + l] =
                    b < P->nb ? P->ascii[c * P->nb + b] : 0;
    }
    if (USE32 && mmax <= 32)
        for (int c = 0; c < 256; c++)
            for (int l = 0; l < GRP; l++)
                G->t32[c * GRP + l] = (uint32_t)G->t8[c * GRP + l];
}

/* Patterns of several words, lanes l0 .. l0 + LANES64: word b of the patterns in one
 * vector, the horizontal difference carried from word b to b + 1 per lane, and each
 * lane's score read at its own last row (word lastw[l], bit lastb[l]). */
static void lev_group_words(const fastml_lev_group *G, int l0, const uint32_t *t,
                            int64_t len, int64_t *res)
{
    const int64_t nbw = G->nbw;
    u64v VP[FASTML_LEV_GROUP_WORDS], VN[FASTML_LEV_GROUP_WORDS];
    u64v eqs[FASTML_LEV_GROUP_WORDS];
    u64v lastb, one = (u64v){0} + 1;
    i64v lastw, score;
    for (int l = 0; l < LANES64; l++) {
        int64_t m = G->p[l0 + l].m;
        lastb[l] = (uint64_t)1 << ((m - 1) & 63);
        lastw[l] = (m - 1) >> 6;
        score[l] = m;
    }
    for (int64_t b = 0; b < nbw; b++) {
        VP[b] = ~(u64v){0};
        VN[b] = (u64v){0};
    }
    for (int64_t j = 0; j < len; j++) {
        uint32_t c = t[j];
        const uint64_t *row;
        int64_t stride;
        if (c < 256) {
            row = G->t8 + (int64_t)c * nbw * GRP + l0;
            stride = GRP;
        } else {
            for (int64_t b = 0; b < nbw; b++)
                for (int l = 0; l < LANES64; l++) {
                    const fastml_lev_pattern *P = &G->p[l0 + l];
                    eqs[b][l] = b < P->nb ? mask_of(P, c, b) : 0;
                }
            row = (const uint64_t *)eqs;
            stride = LANES64;
        }
        u64v hp_in = one, hn_in = (u64v){0};
        for (int64_t b = 0; b < nbw; b++) {
            u64v eq, Pv = VP[b], Mv = VN[b];
            memcpy(&eq, row + b * stride, sizeof(eq));
            u64v Xv = eq | Mv;
            eq |= hn_in;
            u64v Xh = (((eq & Pv) + Pv) ^ Pv) | eq;
            u64v Ph = Mv | ~(Xh | Pv);
            u64v Mh = Pv & Xh;
            i64v here = lastw == ((i64v){0} + b); /* -1 in lanes whose last word is b */
            score -= ((i64v)((Ph & lastb) != 0)) & here;
            score += ((i64v)((Mh & lastb) != 0)) & here;
            u64v hp_out = Ph >> 63, hn_out = Mh >> 63;
            Ph = (Ph << 1) | hp_in;
            Mh = (Mh << 1) | hn_in;
            VP[b] = Mh | ~(Xv | Ph);
            VN[b] = Ph & Xv;
            hp_in = hp_out;
            hn_in = hn_out;
        }
    }
    for (int l = 0; l < LANES64; l++)
        res[l0 + l] = score[l];
}

/* One word per pattern, lanes l0 .. l0 + LANES of T (VT vectors, ST signed lanes), masks
 * of symbols < 256 in TAB[c * GRP + l]. */
#define LEV_GROUP_ONE_WORD(NAME, T, VT, ST, LANES, TAB)                                    \
    static void NAME(const fastml_lev_group *G, int l0, const uint32_t *t, \
                                   int64_t len, int64_t *res)                           \
    {                                                                                      \
        VT VP = ~(VT){0}, VN = (VT){0};                                                    \
        VT last, one = (VT){0} + 1;                                                        \
        ST score;                                                                          \
        for (int l = 0; l < LANES; l++) {                                                  \
            last[l] = (T)1 << (G->p[l0 + l].m - 1);                                        \
            score[l] = G->p[l0 + l].m;                                                     \
        }                                                                                  \
        const T *tab = G->TAB + l0;                                                        \
        for (int64_t j = 0; j < len; j++) {                                                \
            uint32_t c = t[j];                                                             \
            VT eq;                                                                         \
            if (c < 256) {                                                                 \
                memcpy(&eq, tab + (int64_t)c * GRP, sizeof(eq));                           \
            } else {                                                                       \
                for (int l = 0; l < LANES; l++)                                            \
                    eq[l] = (T)mask_of(&G->p[l0 + l], c, 0);                               \
            }                                                                              \
            VT X = eq | VN;                                                                \
            VT D0 = (((X & VP) + VP) ^ VP) | X;                                            \
            VT HP = VN | ~(D0 | VP);                                                       \
            VT HN = VP & D0;                                                               \
            score -= (ST)((HP & last) != 0); /* a true comparison is -1 */                 \
            score += (ST)((HN & last) != 0);                                               \
            HP = (HP << 1) | one;                                                          \
            HN = HN << 1;                                                                  \
            VP = HN | ~(D0 | HP);                                                          \
            VN = HP & D0;                                                                  \
        }                                                                                  \
        for (int l = 0; l < LANES; l++)                                                    \
            res[l0 + l] = score[l];                                                        \
    }

LEV_GROUP_ONE_WORD(lev_group_one64, uint64_t, u64v, i64v, LANES64, t8)
#if USE32
LEV_GROUP_ONE_WORD(lev_group_one32, uint32_t, u32v, i32v, LANES32, t32)
#endif

void fastml_lev_group_distances(const fastml_lev_group *G, const uint32_t *t,
                                              int64_t len, int64_t *res)
{
    /* passes over the lanes that hold patterns (idle lanes at the end are skipped) */
    if (G->nbw > 1) {
        for (int l0 = 0; l0 < G->n; l0 += LANES64)
            lev_group_words(G, l0, t, len, res);
        return;
    }
#if USE32
    if (G->mmax <= 32) {
        for (int l0 = 0; l0 < G->n; l0 += LANES32)
            lev_group_one32(G, l0, t, len, res);
        return;
    }
#endif
    for (int l0 = 0; l0 < G->n; l0 += LANES64)
        lev_group_one64(G, l0, t, len, res);
}

/* ------------------------------------------------------------------------------------
 * Wide groups: as many short patterns as a vector has lanes of the narrowest width that
 * holds them (1 .. 8 symbols: 8-bit lanes, .. 16: 16-bit, .. 32: 32-bit, .. 64: 64-bit;
 * 64 / 32 / 16 / 8 patterns a vector at avx512, half that at avx2), every symbol of every
 * pattern below 256 (the masks of a symbol for all lanes are one vector of the table;
 * row 256 is all zeros, for the text symbols >= 256, which match nothing). One text step
 * is 13 vector operations on all lanes (WIDE_STEP); four texts are scored at once, their steps
 * interleaved, so the dependency chain of one text (Hyyro's recurrence is a chain of
 * dependent operations) does not leave the execution units idle. A lane shift by one is
 * the lane added to itself (x86 has no 8-bit shifts). No score is kept during the scan:
 * the last column's vertical differences give it, D[m][n] = D[0][n] + sum of the m
 * differences = n + popcount(VP) - popcount(VN) over the pattern's m bits.
 * The texts come as byte offsets of their symbols' table rows, min(c, 256) x the vector
 * bytes (computed once for all the texts): a text step then loads its row directly,
 * with no clamping or scaling among the vector operations.
 * ------------------------------------------------------------------------------------ */
int64_t fastml_lev_wide_lanes(int64_t bits) { return (int64_t)FASTML_VEC_BYTES * 8 / bits; }

int64_t fastml_lev_wide_scratch_bytes(void) { return 257 * 64; }

void fastml_lev_wide_build(fastml_lev_wide *W, unsigned char *scratch, const uint32_t *sym,
                           const int64_t *off, const int64_t *rows, int n, int bits)
{
    const int64_t lanes = fastml_lev_wide_lanes(bits), vb = FASTML_VEC_BYTES;
    W->n = n;
    W->bits = bits;
    W->tab = scratch;
    memset(scratch, 0, (size_t)(257 * vb));
    for (int64_t l = 0; l < lanes; l++) {
        if (l >= n) {
            W->m[l] = 1; /* an idle lane: a 1-symbol pattern that matches nothing */
            continue;
        }
        int64_t r = rows[l], m = off[r + 1] - off[r];
        const uint32_t *s = sym + off[r];
        W->m[l] = m;
        for (int64_t i = 0; i < m; i++) {
            unsigned char *v = scratch + (int64_t)s[i] * vb;
            switch (bits) {
            case 8: ((uint8_t *)v)[l] |= (uint8_t)(1u << i); break;
            case 16: ((uint16_t *)v)[l] |= (uint16_t)(1u << i); break;
            case 32: ((uint32_t *)v)[l] |= (uint32_t)1 << i; break;
            default: ((uint64_t *)v)[l] |= (uint64_t)1 << i; break;
            }
        }
    }
}

/* One text step in 13 vector operations: HP = VN | ~(D0 | VP) is kept as its complement
 * NHP = (D0 | VP) ^ VN (VN is a subset of D0), so that X' = (HP << 1) | 1 is ~(NHP << 1)
 * and every negation folds into an and-not. */
#define WIDE_STEP(VP_, VN_, C)                                                             \
    {                                                                                      \
        V eq;                                                                              \
        memcpy(&eq, tab + (C), sizeof(V));                                                 \
        V X = eq | VN_;                                                                    \
        V D0 = (((X & VP_) + VP_) ^ VP_) | X;                                              \
        V NHP = (D0 | VP_) ^ VN_;                                                          \
        V HN = VP_ & D0;                                                                   \
        V NX = NHP + NHP;                                                                  \
        VN_ = D0 & ~NX;                                                                    \
        VP_ = (HN + HN) | (NX & ~D0);                                                      \
    }

#define WIDE_KERNEL(NAME, T)                                                               \
    typedef T NAME##_v __attribute__((vector_size(FASTML_VEC_BYTES)));                     \
    static void NAME(const fastml_lev_wide *W, const uint32_t *const *tx,    \
                                   const int64_t *tl, int nt, int64_t *res)                \
    {                                                                                      \
        typedef NAME##_v V;                                                                \
        const unsigned char *tab = W->tab;                                                 \
        V vp[4], vn[4];                                                                    \
        for (int t = 0; t < 4; t++) {                                                      \
            vp[t] = ~(V){0};                                                               \
            vn[t] = (V){0};                                                                \
        }                                                                                  \
        int64_t mn = 0;                                                                    \
        if (nt == 4) {                                                                     \
            V p0 = vp[0], p1 = p0, p2 = p0, p3 = p0, n0 = vn[0], n1 = n0, n2 = n0, n3 = n0;\
            mn = tl[0];                                                                    \
            for (int t = 1; t < 4; t++)                                                    \
                mn = tl[t] < mn ? tl[t] : mn;                                              \
            const uint32_t *x0 = tx[0], *x1 = tx[1], *x2 = tx[2], *x3 = tx[3];             \
            for (int64_t j = 0; j < mn; j++) {                                             \
                WIDE_STEP(p0, n0, x0[j])                                                   \
                WIDE_STEP(p1, n1, x1[j])                                                   \
                WIDE_STEP(p2, n2, x2[j])                                                   \
                WIDE_STEP(p3, n3, x3[j])                                                   \
            }                                                                              \
            vp[0] = p0, vp[1] = p1, vp[2] = p2, vp[3] = p3;                                \
            vn[0] = n0, vn[1] = n1, vn[2] = n2, vn[3] = n3;                                \
        }                                                                                  \
        for (int t = 0; t < nt; t++) {                                                     \
            V p = vp[t], q = vn[t];                                                        \
            const uint32_t *x = tx[t];                                                     \
            for (int64_t j = mn; j < tl[t]; j++)                                           \
                WIDE_STEP(p, q, x[j])                                                      \
            for (int l = 0; l < W->n; l++) {                                               \
                int64_t m = W->m[l];                                                       \
                uint64_t mask = m >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1);        \
                res[(int64_t)t * 64 + l] = tl[t]                                           \
                                           + __builtin_popcountll((uint64_t)p[l] & mask)   \
                                           - __builtin_popcountll((uint64_t)q[l] & mask);  \
            }                                                                              \
        }                                                                                  \
    }

WIDE_KERNEL(lev_wide8, uint8_t)
WIDE_KERNEL(lev_wide16, uint16_t)
WIDE_KERNEL(lev_wide32, uint32_t)
WIDE_KERNEL(lev_wide64, uint64_t)

void fastml_lev_wide_distances(const fastml_lev_wide *W, const uint32_t *const *tx,
                               const int64_t *tl, int nt, int64_t *res)
{
    switch (W->bits) {
    case 8: lev_wide8(W, tx, tl, nt, res); break;
    case 16: lev_wide16(W, tx, tl, nt, res); break;
    case 32: lev_wide32(W, tx, tl, nt, res); break;
    default: lev_wide64(W, tx, tl, nt, res); break;
    }
}
