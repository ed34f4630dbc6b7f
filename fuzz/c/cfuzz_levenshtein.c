/* Differential fuzz target for csrc/levenshtein.c: fastml_lev_build + fastml_lev_distance
 * (one pattern, any length) and fastml_lev_group_build + fastml_lev_group_distances (up
 * to FASTML_LEV_GROUP patterns of 1 .. 64 FASTML_LEV_GROUP_WORDS symbols), at every SIMD
 * level, against the textbook dynamic programme.
 *
 * Sequences are uint32 code points drawn from small alphabets that mix ASCII, Latin-1,
 * other BMP and astral code points and arbitrary 32-bit values (the hash path), with
 * lengths across the 32/64/128/1024 boundaries; texts share prefixes and suffixes with
 * the patterns (the stripped part) or are edits of them. Preconditions kept: scratch of
 * fastml_lev_scratch_words(m) / fastml_lev_group_scratch_words() words, group patterns of
 * 1 .. 1024 symbols, rows indices into the offsets.
 */
#include "cfuzz.h"
#include "fastml_distances.h"

CF_DECLARE_LEVELS(FASTML_KERNELS_LEVENSHTEIN)

static int64_t ref_lev(const uint32_t *s, int64_t m, const uint32_t *t, int64_t n, int64_t *row)
{
    for (int64_t j = 0; j <= n; j++)
        row[j] = j;
    for (int64_t i = 1; i <= m; i++) {
        int64_t diag = row[0];
        row[0] = i;
        for (int64_t j = 1; j <= n; j++) {
            int64_t up = row[j];
            int64_t best = diag + (s[i - 1] != t[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            row[j] = best;
            diag = up;
        }
    }
    return row[n];
}

typedef struct {
    uint32_t sym[96];
    int n;
} alphabet;

static void make_alphabet(cf_in *in, alphabet *A)
{
    int kind = cf_u8(in) % 6;
    A->n = (int)cf_range(in, 1, kind == 5 ? 96 : 8);
    for (int k = 0; k < A->n; k++) {
        uint32_t c;
        switch ((kind + cf_u8(in)) % 6) {
        case 0: c = 'a' + cf_u8(in) % 26; break;
        case 1: c = cf_u8(in); break;                       /* 0 .. 255, incl. 0 */
        case 2: c = 0x100 + (cf_u32(in) % 0xFF00); break;   /* other BMP */
        case 3: c = 0x10000 + (cf_u32(in) % 0x100000); break; /* astral */
        case 4: c = cf_u32(in); break;                      /* any 32-bit value */
        default:                                            /* hash neighbours */
            c = 0x400u + (uint32_t)k * 0x80u + (cf_u8(in) & 1);
        }
        A->sym[k] = c;
    }
}

/* a sequence of length n over A, or an edited copy of base (when given) */
static void make_seq(cf_in *in, const alphabet *A, uint32_t *out, int64_t n, const uint32_t *base,
                     int64_t bn)
{
    int mode = base && bn ? cf_u8(in) % 3 : 0;
    for (int64_t i = 0; i < n; i++) {
        if (mode == 0 || (mode == 1 && (cf_u8(in) & 15) == 0))
            out[i] = A->sym[cf_u8(in) % A->n];
        else
            out[i] = base[i < bn ? i : bn - 1 - (i - bn) % bn];
    }
    if (mode == 2 && n) /* a few substitutions in the copy */
        for (int e = cf_u8(in) % 4; e > 0; e--)
            out[cf_range(in, 0, n - 1)] = A->sym[cf_u8(in) % A->n];
}

static int64_t seq_len(cf_in *in, int64_t lo, int64_t hi)
{
    return cf_size(in, lo, hi);
}

static void check_single(cf_in *in)
{
    alphabet A;
    make_alphabet(in, &A);
    int64_t m = seq_len(in, 0, 1100), n = seq_len(in, 0, 1100);
    if (m * n > 400000)
        n = 400000 / (m ? m : 1);
    uint32_t *s = cf_alloc((size_t)m * 4), *t = cf_alloc((size_t)n * 4);
    make_seq(in, &A, s, m, NULL, 0);
    make_seq(in, &A, t, n, s, m);
    int64_t *row = cf_alloc((size_t)(n + 1) * 8);
    int64_t want = ref_lev(s, m, t, n, row);
    for (int lv = 0; lv <= cfuzz_levels(); lv++) {
        int64_t words = LV(fastml_lev_scratch_words, lv)(m);
        uint64_t *scratch = cf_alloc((size_t)words * 8);
        fastml_lev_pattern P;
        LV(fastml_lev_build, lv)(&P, scratch, s, m);
        int64_t got = LV(fastml_lev_distance, lv)(&P, t, n);
        if (got != want)
            CF_FAIL("lev_distance %s: m %lld n %lld alphabet %d (first symbol %u) gives %lld, "
                    "expected %lld", cf_level_names[lv], (long long)m, (long long)n, A.n,
                    A.sym[0], (long long)got, (long long)want);
        /* the same pattern against a second text (the pattern is reused by the callers) */
        int64_t got2 = LV(fastml_lev_distance, lv)(&P, s, m);
        if (got2 != 0)
            CF_FAIL("lev_distance %s: a pattern of %lld symbols is at distance %lld from "
                    "itself", cf_level_names[lv], (long long)m, (long long)got2);
        free(scratch);
    }
    free(row);
    free(s);
    free(t);
}

static void check_group(cf_in *in)
{
    alphabet A;
    make_alphabet(in, &A);
    int np = (int)cf_range(in, 1, FASTML_LEV_GROUP);
    int nseq = np + (int)cf_range(in, 0, 3);
    int longk = cf_u8(in) % 4; /* 0: <= 32, 1: <= 64, 2: <= 1024, 3: mixed */
    int64_t lens[FASTML_LEV_GROUP + 3], off[FASTML_LEV_GROUP + 4], rows[FASTML_LEV_GROUP];
    off[0] = 0;
    for (int r = 0; r < nseq; r++) {
        int64_t hi = longk == 0 ? 32 : longk == 1 ? 64 : 64 * FASTML_LEV_GROUP_WORDS;
        lens[r] = seq_len(in, 1, longk == 3 && (cf_u8(in) & 1) ? 33 : hi);
        off[r + 1] = off[r] + lens[r];
    }
    uint32_t *sym = cf_alloc((size_t)off[nseq] * 4);
    for (int r = 0; r < nseq; r++)
        make_seq(in, &A, sym + off[r], lens[r], r ? sym : NULL, r ? lens[0] : 0);
    for (int l = 0; l < np; l++) /* distinct rows, in any order */
        rows[l] = l;
    for (int l = np - 1; l > 0; l--) {
        int k = (int)cf_range(in, 0, l);
        int64_t tmp = rows[l];
        rows[l] = rows[k];
        rows[k] = tmp;
    }
    for (int l = 0; l < np; l++)
        if (nseq > np && (cf_u8(in) & 3) == 0)
            rows[l] = np + (int)cf_range(in, 0, nseq - np - 1);
    int64_t maxm = 0;
    for (int l = 0; l < np; l++)
        maxm = lens[rows[l]] > maxm ? lens[rows[l]] : maxm;
    int64_t n = seq_len(in, 0, 1100);
    if (maxm * n * np > 1500000)
        n = 1500000 / (maxm * np);
    uint32_t *t = cf_alloc((size_t)n * 4);
    make_seq(in, &A, t, n, sym + off[rows[0]], lens[rows[0]]);
    int64_t want[FASTML_LEV_GROUP], *row = cf_alloc((size_t)(n + 1) * 8);
    for (int l = 0; l < np; l++)
        want[l] = ref_lev(sym + off[rows[l]], lens[rows[l]], t, n, row);
    for (int lv = 0; lv <= cfuzz_levels(); lv++) {
        uint64_t *scratch = cf_alloc((size_t)LV(fastml_lev_group_scratch_words, lv)() * 8);
        fastml_lev_group G;
        int64_t res[FASTML_LEV_GROUP];
        for (int l = 0; l < FASTML_LEV_GROUP; l++)
            res[l] = -77;
        LV(fastml_lev_group_build, lv)(&G, scratch, sym, off, rows, np);
        LV(fastml_lev_group_distances, lv)(&G, t, n, res);
        for (int l = 0; l < np; l++)
            if (res[l] != want[l])
                CF_FAIL("lev_group_distances %s: %d patterns, lane %d (%lld symbols, longest "
                        "%lld) vs a text of %lld: %lld, expected %lld", cf_level_names[lv], np,
                        l, (long long)lens[rows[l]], (long long)maxm, (long long)n,
                        (long long)res[l], (long long)want[l]);
        free(scratch);
    }
    free(row);
    free(t);
    free(sym);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_in in = {data, size, 0, 0};
    if (cf_u8(&in) & 1)
        check_group(&in);
    else
        check_single(&in);
    return 0;
}
