/* The compiled core of fastml.svm's dual solver: see fastml_svm.h. */
#include <math.h>
#include <stdlib.h>

#include "fastml_svm.h"

#define SVM_INF HUGE_VAL
#define SVM_TAU 1e-12
enum { SVM_LOWER = 0, SVM_UPPER = 1, SVM_FREE = 2 };

static inline uint8_t svm_status(double a, double c)
{
    return a >= c ? SVM_UPPER : (a <= 0 ? SVM_LOWER : SVM_FREE);
}

#define SVM_T float
#define SVM_S f32
#include "fastml_svm_impl.h"
#undef SVM_T
#undef SVM_S
#define SVM_T double
#define SVM_S f64
#include "fastml_svm_impl.h"
#undef SVM_T
#undef SVM_S

/* I_up: a variable that can move so that -y G grows; I_low: so that it shrinks. */
static inline int svm_in_up(int8_t y, double a, double c)
{
    return y > 0 ? a < c : a > 0;
}

static inline int svm_in_low(int8_t y, double a, double c)
{
    return y > 0 ? a > 0 : a < c;
}

typedef struct {
    double key;
    int32_t idx;
} svm_item;

static int svm_cmp_desc(const void *pa, const void *pb)
{
    const svm_item *a = (const svm_item *)pa, *b = (const svm_item *)pb;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int svm_cmp_asc(const void *pa, const void *pb)
{
    const svm_item *a = (const svm_item *)pa, *b = (const svm_item *)pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static inline int svm_better(const svm_item *a, const svm_item *b, int desc)
{
    if (a->key != b->key)
        return desc ? a->key > b->key : a->key < b->key;
    return a->idx < b->idx;
}

static inline void svm_swap(svm_item *a, svm_item *b)
{
    svm_item t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges a[0..n) so that a[0..k) hold its k best items (in any order): quickselect
 * with a median-of-three pivot under a total order (key, then index). */
static void svm_nth(svm_item *a, int64_t n, int64_t k, int desc)
{
    int64_t lo = 0, hi = n - 1;
    if (k <= 0 || k >= n)
        return;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        if (svm_better(&a[mid], &a[lo], desc))
            svm_swap(&a[mid], &a[lo]);
        if (svm_better(&a[hi], &a[lo], desc))
            svm_swap(&a[hi], &a[lo]);
        if (svm_better(&a[hi], &a[mid], desc))
            svm_swap(&a[hi], &a[mid]);
        /* now a[lo] <= a[mid] <= a[hi] in "better" order; pivot a[mid] moved to hi - 1 */
        svm_swap(&a[mid], &a[hi]);
        const svm_item pivot = a[hi];
        int64_t store = lo;
        for (int64_t t = lo; t < hi; t++)
            if (svm_better(&a[t], &pivot, desc))
                svm_swap(&a[t], &a[store++]);
        svm_swap(&a[store], &a[hi]);
        if (store == k || store == k - 1)
            return;
        if (store > k)
            hi = store - 1;
        else
            lo = store + 1;
    }
}

/* The sign group `sign` (0: every variable) of the problem: its gap, and up to k selected
 * variables appended to out. */
static int64_t svm_select_group(int64_t l, const int8_t *y, const double *G,
                                const double *alpha, const double *C, int sign,
                                uint8_t *skip, int64_t k, int32_t *out, double *gap,
                                svm_item *up, svm_item *low)
{
    int64_t nu_ = 0, nl = 0, t;
    for (t = 0; t < l; t++) {
        if (sign && y[t] != sign)
            continue;
        const double v = -(double)y[t] * G[t];
        if (svm_in_up(y[t], alpha[t], C[t])) {
            up[nu_].key = v;
            up[nu_].idx = (int32_t)t;
            nu_++;
        }
        if (svm_in_low(y[t], alpha[t], C[t])) {
            low[nl].key = v;
            low[nl].idx = (int32_t)t;
            nl++;
        }
    }
    if (nu_ == 0 || nl == 0) {
        *gap = -SVM_INF;
        return 0;
    }
    /* only the best k + (already selected) of each side can be taken: select, then sort */
    int64_t nskip = 0;
    for (t = 0; t < l; t++)
        nskip += skip[t] != 0;
    int64_t ku = k + nskip + 1 < nu_ ? k + nskip + 1 : nu_;
    int64_t kl = k + nskip + 1 < nl ? k + nskip + 1 : nl;
    svm_nth(up, nu_, ku, 1);
    svm_nth(low, nl, kl, 0);
    qsort(up, (size_t)ku, sizeof(svm_item), svm_cmp_desc);
    qsort(low, (size_t)kl, sizeof(svm_item), svm_cmp_asc);
    nu_ = ku;
    nl = kl;
    const double m = up[0].key, M = low[0].key;
    *gap = m - M;
    int64_t got = 0, a = 0, b = 0;
    while (got < k && (a < nu_ || b < nl)) {
        /* the next violator of I_up, then of I_low */
        while (a < nu_ && up[a].key > M && skip[up[a].idx])
            a++;
        if (a < nu_ && up[a].key > M) {
            out[got++] = up[a].idx;
            skip[up[a].idx] = 1;
            a++;
        } else {
            a = nu_;
        }
        if (got >= k)
            break;
        while (b < nl && low[b].key < m && skip[low[b].idx])
            b++;
        if (b < nl && low[b].key < m) {
            out[got++] = low[b].idx;
            skip[low[b].idx] = 1;
            b++;
        } else {
            b = nl;
        }
    }
    return got;
}

int64_t fastml_svm_select(int64_t l, const int8_t *y, const double *G, const double *alpha,
                          const double *C, int nu, uint8_t *skip, int64_t k, int32_t *out,
                          double *gap, void *scratch)
{
    svm_item *up = (svm_item *)scratch, *low = up + l;
    if (!nu)
        return svm_select_group(l, y, G, alpha, C, 0, skip, k, out, gap, up, low);
    double gp, gn;
    int64_t kp = k / 2, got;
    got = svm_select_group(l, y, G, alpha, C, 1, skip, kp, out, &gp, up, low);
    got += svm_select_group(l, y, G, alpha, C, -1, skip, k - got, out + got, &gn, up, low);
    if (got < k) /* the positive group may take what the negative one left */
        got += svm_select_group(l, y, G, alpha, C, 1, skip, k - got, out + got, &gp, up,
                                low);
    *gap = gp > gn ? gp : gn;
    return got;
}

double fastml_svm_gap(int64_t l, const int8_t *y, const double *G, const double *alpha,
                      const double *C, int nu)
{
    /* [0]: y = +1 (or every variable), [1]: y = -1 */
    double up[2] = {-SVM_INF, -SVM_INF}, low[2] = {SVM_INF, SVM_INF};
    for (int64_t t = 0; t < l; t++) {
        const int g = nu && y[t] < 0;
        const double v = -(double)y[t] * G[t];
        if (svm_in_up(y[t], alpha[t], C[t]) && v > up[g])
            up[g] = v;
        if (svm_in_low(y[t], alpha[t], C[t]) && v < low[g])
            low[g] = v;
    }
    const double g0 = up[0] - low[0];
    if (!nu)
        return g0;
    const double g1 = up[1] - low[1];
    return g0 > g1 ? g0 : g1;
}

double fastml_svm_rho(int64_t l, const int8_t *y, const double *G, const double *alpha,
                      const double *C, int nu, double *r_out)
{
    if (!nu) {
        double ub = SVM_INF, lb = -SVM_INF, sum = 0;
        int64_t nfree = 0;
        for (int64_t t = 0; t < l; t++) {
            const double yG = (double)y[t] * G[t];
            const uint8_t s = svm_status(alpha[t], C[t]);
            if (s == SVM_UPPER) {
                if (y[t] < 0)
                    ub = yG < ub ? yG : ub;
                else
                    lb = yG > lb ? yG : lb;
            } else if (s == SVM_LOWER) {
                if (y[t] > 0)
                    ub = yG < ub ? yG : ub;
                else
                    lb = yG > lb ? yG : lb;
            } else {
                nfree++;
                sum += yG;
            }
        }
        if (r_out)
            *r_out = 0;
        return nfree > 0 ? sum / (double)nfree : (ub + lb) / 2;
    }
    double ub[2] = {SVM_INF, SVM_INF}, lb[2] = {-SVM_INF, -SVM_INF}, sum[2] = {0, 0};
    int64_t nfree[2] = {0, 0};
    for (int64_t t = 0; t < l; t++) {
        const int g = y[t] < 0;
        const uint8_t s = svm_status(alpha[t], C[t]);
        if (s == SVM_UPPER)
            lb[g] = G[t] > lb[g] ? G[t] : lb[g];
        else if (s == SVM_LOWER)
            ub[g] = G[t] < ub[g] ? G[t] : ub[g];
        else {
            nfree[g]++;
            sum[g] += G[t];
        }
    }
    double r1 = nfree[0] > 0 ? sum[0] / (double)nfree[0] : (ub[0] + lb[0]) / 2;
    double r2 = nfree[1] > 0 ? sum[1] / (double)nfree[1] : (ub[1] + lb[1]) / 2;
    if (r_out)
        *r_out = (r1 + r2) / 2;
    return (r1 - r2) / 2;
}
