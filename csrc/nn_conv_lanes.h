/* Direct convolution kernels with channels or image rows in the vector lanes, and the
 * layout changes around them; included by nn_conv.c once per element type, with
 *     T    the element type (float, double)
 *     SFX  its suffix (f32, f64)
 * defined. See fastml_nn.h for the contracts.
 *
 * Channel blocks. The "cl" kernels hold L = 64 / sizeof(T) consecutive output channels
 * (16 float, 8 double) in CB = 64 / FASTML_VEC_BYTES vectors (1 at avx512, 2 at avx2, 4
 * at the baseline), so that their data layouts ([position][L]) are the same at every
 * level and only the register blocking changes:
 *   forward: RW consecutive outputs of one row x CB vectors of accumulators; per tap, CB
 *            weight vectors and RW broadcasts of input values (RW * CB <= the accumulator
 *            budget of the level);
 *   dw:      NT taps x CB vectors of accumulators; per output position, CB gradient
 *            vectors and NT broadcasts of input values, summed over a tile of samples.
 * With few input channels and many output channels this fills every lane, where the
 * flat kernels (image positions in the lanes) waste the positions past each row's end.
 *
 * Row kernel for the input gradient ("sp"): dx is computed one row at a time, row
 * positions in the lanes (ceil(W / V) vectors), CI input channels at once, summing over
 * the output channels and only the kernel rows that meet the gradient (no zero rows,
 * unlike the full convolution of the flat kernels).
 */
#define LN_CAT_(a, b) a##_##b
#define LN_CAT(a, b) LN_CAT_(a, b)
#define LN(name) LN_CAT(name, SFX)
#define LN_VEC LN(vec)
#define LN_IVEC LN(ivec)
#define LN_U8 LN(u8vec)

/* ---- forward: one row segment of RW outputs, NB channel blocks ---------------------- */
#define LN_FWD(NB, RW)                                                                     \
    ALWAYS_INLINE void LN_CAT(LN_CAT(LN(ln_fwd), NB), RW)(                                 \
        const T *xr0, int64_t C, int64_t plane, int64_t Wp, int64_t kh, int64_t kw,        \
        const T *wq, int64_t wstride, T *y, int64_t ystride)                               \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T), CB = LN_CB };                             \
        LN_VEC acc[RW][NB * CB];                                                           \
        for (int r = 0; r < RW; r++)                                                       \
            for (int b = 0; b < NB * CB; b++)                                              \
                acc[r][b] = (LN_VEC){0};                                                   \
        const T *wt = wq;                                                                  \
        for (int64_t c = 0; c < C; c++)                                                    \
            for (int64_t ki = 0; ki < kh; ki++) {                                          \
                const T *xr = xr0 + c * plane + ki * Wp;                                   \
                for (int64_t kj = 0; kj < kw; kj++, wt += CB * V) {                        \
                    LN_VEC wv[NB * CB];                                                    \
                    for (int nb = 0; nb < NB; nb++)                                        \
                        for (int b = 0; b < CB; b++)                                       \
                            memcpy(&wv[nb * CB + b], wt + nb * wstride + b * V,            \
                                   sizeof wv[0]);                                          \
                    FASTML_PRAGMA(GCC unroll 24)                                           \
                    for (int r = 0; r < RW; r++) {                                         \
                        T s = xr[kj + r];                                                  \
                        FASTML_PRAGMA(GCC unroll 8)                                        \
                        for (int b = 0; b < NB * CB; b++)                                  \
                            acc[r][b] += s * wv[b];                                        \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        for (int nb = 0; nb < NB; nb++)                                                    \
            for (int r = 0; r < RW; r++)                                                   \
                for (int b = 0; b < CB; b++)                                               \
                    memcpy(y + nb * ystride + (r * CB + b) * V, &acc[r][nb * CB + b],      \
                           sizeof acc[r][0]);                                              \
    }
#define LN_FWD1(RW) LN_FWD(1, RW)
#define LN_FWD2(RW) LN_FWD(2, RW)
LN_RW_LIST(LN_FWD1)
LN_RW2_LIST(LN_FWD2)

#define LN_FWD1_CASE(RW)                                                                   \
    case RW:                                                                               \
        LN_CAT(LN_CAT(LN(ln_fwd), 1), RW)(xr, C, Hp * Wp, Wp, kh, kw, wq, wstride, yr,     \
                                          ystride);                                        \
        break;
#define LN_FWD2_CASE(RW)                                                                   \
    case RW:                                                                               \
        LN_CAT(LN_CAT(LN(ln_fwd), 2), RW)(xr, C, Hp * Wp, Wp, kh, kw, wq, wstride, yr,     \
                                          ystride);                                        \
        break;

/* nb (1 or 2) channel blocks, weights wstride apart, outputs ystride apart; two blocks
 * share each broadcast input value (where the level has the registers for it) */
void LN(fastml_cl_fwd)(const T *xp, int64_t C, int64_t Hp, int64_t Wp,
                                     int64_t kh, int64_t kw, const T *wq, int64_t wstride,
                                     int nb, int64_t Ho, int64_t Wo, T *y, int64_t ystride)
{
    enum { L = 64 / sizeof(T) };
    if (nb == 2 && LN_RW2MAX == 0) {
        LN(fastml_cl_fwd)(xp, C, Hp, Wp, kh, kw, wq, wstride, 1, Ho, Wo, y, ystride);
        LN(fastml_cl_fwd)(xp, C, Hp, Wp, kh, kw, wq + wstride, wstride, 1, Ho, Wo,
                          y + ystride, ystride);
        return;
    }
    int64_t rwmax = nb == 2 ? LN_RW2MAX : LN_RWMAX;
    int64_t nch = (Wo + rwmax - 1) / rwmax, rw = (Wo + nch - 1) / nch;
    for (int64_t oh = 0; oh < Ho; oh++)
        for (int64_t ow = 0; ow < Wo; ow += rw) {
            int n = (int)(Wo - ow < rw ? Wo - ow : rw);
            const T *xr = xp + oh * Wp + ow;
            T *yr = y + (oh * Wo + ow) * L;
            if (nb == 2) {
                switch (n) {
                    LN_RW2_LIST(LN_FWD2_CASE)
                default:
                    break;
                }
            } else {
                switch (n) {
                    LN_RW_LIST(LN_FWD1_CASE)
                default:
                    break;
                }
            }
        }
}

/* ---- weight gradient: NT taps of one channel block, over a tile of samples ---------- */
#define LN_DW_NT(NT)                                                                       \
    ALWAYS_INLINE void LN_CAT(LN(ln_dw), NT)(const T *xs, int64_t xstride, const T *g,   \
                                             int64_t gstride, int64_t ns, int64_t Ho,      \
                                             int64_t Wo, int64_t Wp, const int64_t *offs,  \
                                             T *dwacc)                                     \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T), CB = LN_CB };                             \
        LN_VEC acc[NT][CB];                                                                \
        int64_t off[NT];                                                                   \
        for (int t = 0; t < NT; t++) {                                                     \
            off[t] = offs[t];                                                              \
            for (int b = 0; b < CB; b++)                                                   \
                acc[t][b] = (LN_VEC){0};                                                   \
        }                                                                                  \
        for (int64_t s = 0; s < ns; s++)                                                   \
            for (int64_t oh = 0; oh < Ho; oh++) {                                          \
                const T *xr = xs + s * xstride + oh * Wp;                                  \
                const T *gr = g + s * gstride + oh * Wo * CB * V;                          \
                for (int64_t ow = 0; ow < Wo; ow++) {                                      \
                    LN_VEC gv[CB];                                                         \
                    for (int b = 0; b < CB; b++)                                           \
                        memcpy(&gv[b], gr + (ow * CB + b) * V, sizeof gv[b]);              \
                    FASTML_PRAGMA(GCC unroll 16)                                           \
                    for (int t = 0; t < NT; t++) {                                         \
                        T v = xr[off[t] + ow];                                             \
                        FASTML_PRAGMA(GCC unroll 4)                                        \
                        for (int b = 0; b < CB; b++)                                       \
                            acc[t][b] += v * gv[b];                                        \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        for (int t = 0; t < NT; t++)                                                       \
            for (int b = 0; b < CB; b++) {                                                 \
                LN_VEC a;                                                                  \
                memcpy(&a, dwacc + (t * CB + b) * V, sizeof a);                            \
                a += acc[t][b];                                                            \
                memcpy(dwacc + (t * CB + b) * V, &a, sizeof a);                            \
            }                                                                              \
    }
LN_DW_NT(LN_NT)
#if LN_NT != 1
LN_DW_NT(1)
#endif

void LN(fastml_cl_dw)(const T *xs, int64_t xstride, const T *g,
                                    int64_t gstride, int64_t ns, int64_t C, int64_t Hp,
                                    int64_t Wp, int64_t kh, int64_t kw, int64_t Ho,
                                    int64_t Wo, T *dwacc)
{
    enum { L = 64 / sizeof(T) };
    int64_t K = C * kh * kw, kk = kh * kw, offs[LN_NT], t0 = 0;
    for (; t0 + LN_NT <= K; t0 += LN_NT) {
        for (int t = 0; t < LN_NT; t++) {
            int64_t tap = t0 + t, r = tap % kk;
            offs[t] = (tap / kk) * Hp * Wp + (r / kw) * Wp + r % kw;
        }
        LN_CAT(LN(ln_dw), LN_NT)(xs, xstride, g, gstride, ns, Ho, Wo, Wp, offs,
                                 dwacc + t0 * L);
    }
    for (; t0 < K; t0++) {
        int64_t r = t0 % kk;
        offs[0] = (t0 / kk) * Hp * Wp + (r / kw) * Wp + r % kw;
        LN_CAT(LN(ln_dw), 1)(xs, xstride, g, gstride, ns, Ho, Wo, Wp, offs, dwacc + t0 * L);
    }
}

/* ---- input gradient, one dx row: CI channels, NW vectors along the row ------------- */
#define LN_DX(CI, NW)                                                                      \
    ALWAYS_INLINE void LN_CAT(LN_CAT(LN(ln_dx), CI), NW)(                                  \
        const T *gq, int64_t Co, int64_t gplane, int64_t Wq, int64_t oh0, int64_t ki0,     \
        int64_t ki1, int64_t kh, int64_t kw, const T *wd, int64_t Ci, T *dxr, int64_t HW,  \
        int64_t n)                                                                         \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T), S = CI * NW >= 8 ? 1 : 2 };               \
        LN_VEC acc[2][CI][NW];                                                             \
        for (int s = 0; s < 2; s++)                                                        \
            for (int c = 0; c < CI; c++)                                                   \
                for (int v = 0; v < NW; v++)                                               \
                    acc[s][c][v] = (LN_VEC){0};                                            \
        for (int64_t co = 0; co < Co; co++)                                                \
            for (int64_t ki = ki0; ki < ki1; ki++) {                                       \
                const T *gr = gq + co * gplane + (oh0 - ki) * Wq + kw - 1;                 \
                const T *wr = wd + (co * kh + ki) * kw * Ci;                               \
                int64_t kj = 0;                                                            \
                for (; kj + 1 < kw; kj += 2) {                                             \
                    LN_VEC g0[NW], g1[NW];                                                 \
                    for (int v = 0; v < NW; v++) {                                         \
                        memcpy(&g0[v], gr - kj + v * V, sizeof g0[v]);                     \
                        memcpy(&g1[v], gr - kj - 1 + v * V, sizeof g1[v]);                 \
                    }                                                                      \
                    FASTML_PRAGMA(GCC unroll 16)                                           \
                    for (int c = 0; c < CI; c++) {                                         \
                        T a = wr[kj * Ci + c], b = wr[(kj + 1) * Ci + c];                  \
                        for (int v = 0; v < NW; v++) {                                     \
                            acc[0][c][v] += a * g0[v];                                     \
                            acc[S - 1][c][v] += b * g1[v];                                 \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
                if (kj < kw) {                                                             \
                    LN_VEC g0[NW];                                                         \
                    for (int v = 0; v < NW; v++)                                           \
                        memcpy(&g0[v], gr - kj + v * V, sizeof g0[v]);                     \
                    FASTML_PRAGMA(GCC unroll 16)                                           \
                    for (int c = 0; c < CI; c++) {                                         \
                        T a = wr[kj * Ci + c];                                             \
                        for (int v = 0; v < NW; v++)                                       \
                            acc[0][c][v] += a * g0[v];                                     \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        for (int c = 0; c < CI; c++)                                                       \
            for (int v = 0; v < NW; v++) {                                                 \
                LN_VEC s = S == 2 ? acc[0][c][v] + acc[1][c][v] : acc[0][c][v];            \
                T *d = dxr + c * HW + v * V;                                               \
                if ((v + 1) * V <= n) {                                                    \
                    memcpy(d, &s, sizeof s);                                               \
                } else if (v * V < n) { /* the row's last, partial vector */               \
                    T tmp[64 / sizeof(T)];                                                 \
                    memcpy(tmp, &s, sizeof s);                                             \
                    copy_short(d, tmp, (size_t)(n - v * V) * sizeof(T));                   \
                }                                                                          \
            }                                                                              \
    }
LN_DX_LIST(LN_DX)

#define LN_DX_CASE(CI, NW)                                                                 \
    if (ci == CI && nw == NW) {                                                            \
        LN_CAT(LN_CAT(LN(ln_dx), CI), NW)(gq + v0 * V, Co, Ho * Wq, Wq, ih + ph, ki0, ki1,  \
                                          kh, kw, wd + c0, Ci, dxr, H * W, n);             \
        continue;                                                                          \
    }

void LN(fastml_sp_dx)(const T *gq, int64_t Co, int64_t Ho, int64_t Wq,
                                    int64_t ph, int64_t kh, int64_t kw, const T *wd,
                                    int64_t Ci, int64_t H, int64_t W, T *dx)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T) };
    int64_t nwt = (W + V - 1) / V; /* vectors per dx row */
    for (int64_t v0 = 0; v0 < nwt; v0 += LN_DX_NWMAX) {
        int nw = (int)(nwt - v0 < LN_DX_NWMAX ? nwt - v0 : LN_DX_NWMAX);
        int64_t iw0 = v0 * V, n = W - iw0 < nw * V ? W - iw0 : nw * V;
        int cimax = LN_ACC / nw;
        for (int64_t c0 = 0; c0 < Ci;) {
            int64_t rem = Ci - c0;
            int ci = 1;
            static const int blocks[] = {12, 8, 6, 4, 3, 2, 1};
            for (int b = 0; b < 7; b++)
                if (blocks[b] <= cimax && blocks[b] <= rem) {
                    ci = blocks[b];
                    break;
                }
            for (int64_t ih = 0; ih < H; ih++) {
                /* kernel rows ki meeting the gradient: 0 <= ih + ph - ki < Ho */
                int64_t ki0 = ih + ph - (Ho - 1), ki1 = ih + ph + 1;
                ki0 = ki0 < 0 ? 0 : ki0;
                ki1 = ki1 > kh ? kh : ki1;
                T *dxr = dx + c0 * H * W + ih * W + iw0;
                if (ki1 <= ki0) {
                    for (int c = 0; c < ci; c++)
                        memset(dxr + c * H * W, 0, (size_t)n * sizeof(T));
                    continue;
                }
                LN_DX_LIST(LN_DX_CASE)
            }
            c0 += ci;
        }
    }
}

/* ---- layout changes ----------------------------------------------------------------- */
/* In-place transpose of V vectors of V lanes: log2(V) rounds of interleaving row k with
 * row k + V/2 (a perfect shuffle of the rows, which after log2(V) rounds transposes). */
ALWAYS_INLINE void LN(ln_transpose)(LN_VEC *r)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T) };
    LN_IVEC lo, hi;
    for (int l = 0; l < V / 2; l++) {
        lo[2 * l] = l;
        lo[2 * l + 1] = V + l;
        hi[2 * l] = V / 2 + l;
        hi[2 * l + 1] = V + V / 2 + l;
    }
    for (int round = 1; round < V; round *= 2) {
        LN_VEC t[V];
        for (int k = 0; k < V / 2; k++) {
            t[2 * k] = __builtin_shuffle(r[k], r[k + V / 2], lo);
            t[2 * k + 1] = __builtin_shuffle(r[k], r[k + V / 2], hi);
        }
        for (int i = 0; i < V; i++)
            r[i] = t[i];
    }
}

/* out[j, p] = y[p, j] + bias[j] for j < m, p < P (y: [P][L]) */
void LN(fastml_cl_unpack)(const T *y, int64_t P, int64_t m, const T *bias,
                                        T *out)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T), CB = LN_CB, L = 64 / sizeof(T) };
    int64_t p0 = 0;
    for (; p0 + V <= P; p0 += V)
        for (int b = 0; b < CB && b * V < m; b++) {
            LN_VEC r[V];
            for (int i = 0; i < V; i++)
                memcpy(&r[i], y + (p0 + i) * L + b * V, sizeof r[i]);
            LN(ln_transpose)(r);
            for (int j = 0; j < V && b * V + j < m; j++) {
                LN_VEC v = r[j] + (bias ? bias[b * V + j] : (T)0);
                memcpy(out + (b * V + j) * P + p0, &v, sizeof v);
            }
        }
    for (; p0 < P; p0++)
        for (int64_t j = 0; j < m; j++)
            out[j * P + p0] = y[p0 * L + j] + (bias ? bias[j] : (T)0);
}

/* g[p, j] = gout[j, p] for j < m, 0 for m <= j < L (g: [P][L]) */
void LN(fastml_cl_pack)(const T *gout, int64_t P, int64_t m, T *g)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T), CB = LN_CB, L = 64 / sizeof(T) };
    int64_t p0 = 0;
    for (; p0 + V <= P; p0 += V)
        for (int b = 0; b < CB; b++) {
            LN_VEC r[V];
            for (int j = 0; j < V; j++) {
                if (b * V + j < m)
                    memcpy(&r[j], gout + (b * V + j) * P + p0, sizeof r[j]);
                else
                    r[j] = (LN_VEC){0};
            }
            LN(ln_transpose)(r);
            for (int i = 0; i < V; i++)
                memcpy(g + (p0 + i) * L + b * V, &r[i], sizeof r[i]);
        }
    for (; p0 < P; p0++)
        for (int64_t j = 0; j < L; j++)
            g[p0 * L + j] = j < m ? gout[j * P + p0] : (T)0;
}

/* gq[co, oh, c] = gout[co, oh, c - q] for q <= c < q + Wo, 0 elsewhere (c < Wq) */
void LN(fastml_sp_pack)(const T *gout, int64_t Co, int64_t Ho, int64_t Wo,
                                      int64_t q, int64_t Wq, T *gq)
{
    zero_bytes(gq, (size_t)(Co * Ho * Wq) * sizeof(T));
    for (int64_t r = 0; r < Co * Ho; r++)
        copy_bytes(gq + r * Wq + q, gout + r * Wo, (size_t)Wo * sizeof(T));
}

/* acc[j] += sum of the n values of row j (m rows): V lanes, then the lanes in order */
void LN(fastml_row_sums)(const T *g, int64_t m, int64_t n, double *acc)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T) };
    for (int64_t j = 0; j < m; j++) {
        const T *r = g + j * n;
        LN_VEC t = {0};
        int64_t f = 0;
        for (; f + V <= n; f += V) {
            LN_VEC v;
            memcpy(&v, r + f, sizeof v);
            t += v;
        }
        double h = 0;
        for (int l = 0; l < V; l++)
            h += t[l];
        for (; f < n; f++)
            h += r[f];
        acc[j] += h;
    }
}

/* ---- fused bias + ReLU + k x k max pooling (stride k) on the convolution output ----- */
/* Pooled output (m, Hq, Wq) and positions: the window offset r * k + c of the first
 * maximum of (conv + bias), or 255 where that maximum is <= 0 (the ReLU passes no
 * gradient). Returns 0 when a pooled window holds a NaN or an infinity (the caller then
 * runs the unfused layers, whose NaN rules differ), else 1. */
int LN(fastml_cl_relu_pool)(T *y, int64_t Wo, int64_t m,
                                          const T *bias, int64_t k, int64_t Hq, int64_t Wq,
                                          T *out, uint8_t *pos)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T), CB = LN_CB, L = 64 / sizeof(T) };
    LN_VEC bv[CB], bad = {0};
    for (int b = 0; b < CB; b++)
        memcpy(&bv[b], bias + b * V, sizeof bv[b]);
    int64_t hw = Hq * Wq;
    for (int64_t ph = 0; ph < Hq; ph++)
        for (int64_t pw = 0; pw < Wq; pw++) {
            LN_VEC best[CB];
            LN_IVEC idx[CB];
            const T *y0 = y + (ph * k * Wo + pw * k) * L;
            for (int b = 0; b < CB; b++) {
                memcpy(&best[b], y0 + b * V, sizeof best[b]);
                best[b] += bv[b];
                bad += best[b] * 0;
                idx[b] = (LN_IVEC){0};
            }
            for (int64_t q = 1; q < k * k; q++) {
                const T *yp = y + ((ph * k + q / k) * Wo + pw * k + q % k) * L;
                for (int b = 0; b < CB; b++) {
                    LN_VEC v;
                    memcpy(&v, yp + b * V, sizeof v);
                    v += bv[b];
                    bad += v * 0;
                    LN_IVEC gt = v > best[b];
                    best[b] = (LN_VEC)(((LN_IVEC)v & gt) | ((LN_IVEC)best[b] & ~gt));
                    idx[b] = (((LN_IVEC){0} + (int)q) & gt) | (idx[b] & ~gt);
                }
            }
            /* the pooled values go to y[q] (q = ph * Wq + pw): that position belongs to
             * this window or to one already pooled (q <= the first of this window) */
            uint8_t pv[L];
            T *yq = y + (ph * Wq + pw) * L;
            for (int b = 0; b < CB; b++) {
                LN_IVEC keep = best[b] > (LN_VEC){0};
                LN_VEC o = (LN_VEC)((LN_IVEC)best[b] & keep);
                LN_U8 p = __builtin_convertvector((idx[b] & keep) | (255 & ~keep), LN_U8);
                memcpy(yq + b * V, &o, sizeof o);
                memcpy(pv + b * V, &p, sizeof p);
            }
            for (int64_t j = 0; j < m; j++)
                pos[j * hw + ph * Wq + pw] = pv[j];
        }
    LN(fastml_cl_unpack)(y, hw, m, NULL, out);
    int ok = 1;
    for (int l = 0; l < V; l++)
        ok &= bad[l] == 0;
    return ok;
}

int LN(fastml_flat_relu_pool)(const T *obuf, int64_t ldo, int64_t m,
                                            int64_t Wp, const T *bias, int64_t k,
                                            int64_t Hq, int64_t Wq, T *out, uint8_t *pos)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T) };
    LN_VEC bad = {0};
    int64_t hw = Hq * Wq;
    LN_IVEC even, odd, lane;
    for (int l = 0; l < V; l++) {
        even[l] = 2 * l;
        odd[l] = 2 * l + 1;
        lane[l] = l;
    }
    for (int64_t j = 0; j < m; j++) {
        T b = bias ? bias[j] : (T)0;
        const T *yj = obuf + j * ldo;
        T *oj = out + j * hw;
        uint8_t *pj = pos + j * hw;
        for (int64_t ph = 0; ph < Hq; ph++) {
            if (k != 2) { /* any k: one window at a time */
                for (int64_t pw = 0; pw < Wq; pw++) {
                    T best = 0;
                    int64_t bi = 0;
                    for (int64_t q = 0; q < k * k; q++) {
                        T v = yj[(ph * k + q / k) * Wp + pw * k + q % k] + b;
                        bad[0] += v * 0;
                        if (q == 0 || v > best) {
                            best = v;
                            bi = q;
                        }
                    }
                    oj[ph * Wq + pw] = best > 0 ? best : (T)0;
                    pj[ph * Wq + pw] = (uint8_t)(best > 0 ? bi : 255);
                }
                continue;
            }
            const T *r0 = yj + 2 * ph * Wp, *r1 = r0 + Wp;
            for (int64_t pw0 = 0; pw0 < Wq; pw0 += V) {
                LN_VEC a0, a1, c0, c1;
                memcpy(&a0, r0 + 2 * pw0, sizeof a0);
                memcpy(&a1, r0 + 2 * pw0 + V, sizeof a1);
                memcpy(&c0, r1 + 2 * pw0, sizeof c0);
                memcpy(&c1, r1 + 2 * pw0 + V, sizeof c1);
                LN_VEC cand[4] = {__builtin_shuffle(a0, a1, even) + b,
                                  __builtin_shuffle(a0, a1, odd) + b,
                                  __builtin_shuffle(c0, c1, even) + b,
                                  __builtin_shuffle(c0, c1, odd) + b};
                LN_VEC best = cand[0];
                LN_IVEC idx = {0};
                for (int q = 1; q < 4; q++) {
                    LN_IVEC gt = cand[q] > best;
                    best = (LN_VEC)(((LN_IVEC)cand[q] & gt) | ((LN_IVEC)best & ~gt));
                    idx = (((LN_IVEC){0} + q) & gt) | (idx & ~gt);
                }
                int64_t n = Wq - pw0 < V ? Wq - pw0 : V;
                LN_IVEC in = lane < (LN_IVEC){0} + (int)n;
                bad += (LN_VEC)((LN_IVEC)((cand[0] + cand[1] + cand[2] + cand[3]) * 0) & in);
                LN_IVEC keep = best > (LN_VEC){0};
                LN_VEC ov = (LN_VEC)((LN_IVEC)best & keep);
                LN_U8 pv = __builtin_convertvector((idx & keep) | (255 & ~keep), LN_U8);
                if (n == V) {
                    memcpy(oj + ph * Wq + pw0, &ov, sizeof ov);
                    memcpy(pj + ph * Wq + pw0, &pv, sizeof pv);
                } else {
                    for (int64_t l = 0; l < n; l++) {
                        oj[ph * Wq + pw0 + l] = ov[l];
                        pj[ph * Wq + pw0 + l] = pv[l];
                    }
                }
            }
        }
    }
    int ok = 1;
    for (int l = 0; l < V; l++)
        ok &= bad[l] == 0;
    return ok;
}

/* The gradient of the convolution output (m, Ho, Wo) from the pooled gradient gp and the
 * positions of fastml_*_relu_pool: gp at each kept position, zero elsewhere. Every
 * window is written whole (no branch on the position: half of them are killed by the
 * ReLU, at random); k = 2 runs V windows at once and needs 2 * 64 bytes of writable
 * slack after g. */
void LN(fastml_pool_grad_expand)(const T *gp, const uint8_t *pos, int64_t m,
                                               int64_t Ho, int64_t Wo, int64_t k,
                                               int64_t Hq, int64_t Wq, T *g)
{
    enum { V = FASTML_VEC_BYTES / sizeof(T) };
    LN_IVEC lo, hi;
    for (int l = 0; l < V / 2; l++) {
        lo[2 * l] = l;
        lo[2 * l + 1] = V + l;
        hi[2 * l] = V / 2 + l;
        hi[2 * l + 1] = V + V / 2 + l;
    }
    for (int64_t j = 0; j < m; j++) {
        T *gj = g + j * Ho * Wo;
        const T *gpj = gp + j * Hq * Wq;
        const uint8_t *pj = pos + j * Hq * Wq;
        for (int64_t ph = 0; ph < Hq; ph++) {
            T *r0 = gj + ph * k * Wo;
            int64_t pw = 0;
            if (k == 2) {
                /* Whole vectors: values read past the row's end come from the next row
                 * (or, at the block's end, zeros) and their windows are written past
                 * column 2 Wq - 1: into columns zeroed below, rows written later, or the
                 * two vectors of slack the caller leaves after g. The last vector goes
                 * first, so that what it writes past the end of row r0 (into row r1) is
                 * overwritten by the other vectors. */
                T *r1 = r0 + Wo;
                const T *end = gp + m * Hq * Wq;
                for (int64_t c0 = (Wq - 1) / V * V; c0 >= 0; c0 -= V) {
                    pw = c0;
                    const T *src = gpj + ph * Wq + pw;
                    const uint8_t *psrc = pj + ph * Wq + pw;
                    LN_VEC v = {0};
                    LN_U8 q8 = {0};
                    if (src + V <= end) {
                        memcpy(&v, src, sizeof v);
                        memcpy(&q8, psrc, sizeof q8);
                    } else {
                        for (int64_t l = 0; l < end - src; l++) {
                            v[l] = src[l];
                            q8[l] = psrc[l];
                        }
                    }
                    LN_IVEC q = __builtin_convertvector(q8, LN_IVEC);
                    LN_VEC s[4];
                    for (int c = 0; c < 4; c++)
                        s[c] = (LN_VEC)((LN_IVEC)v & (q == c));
                    LN_VEC a[2] = {__builtin_shuffle(s[0], s[1], lo),
                                   __builtin_shuffle(s[0], s[1], hi)};
                    LN_VEC b[2] = {__builtin_shuffle(s[2], s[3], lo),
                                   __builtin_shuffle(s[2], s[3], hi)};
                    memcpy(r0 + 2 * pw, a, sizeof a);
                    memcpy(r1 + 2 * pw, b, sizeof b);
                }
                pw = Wq;
            }
            for (; pw < Wq; pw++) {
                T v = gpj[ph * Wq + pw];
                int64_t q = pj[ph * Wq + pw];
                for (int64_t r = 0; r < k; r++)
                    for (int64_t c = 0; c < k; c++)
                        r0[r * Wo + pw * k + c] = r * k + c == q ? v : (T)0;
            }
            for (int64_t r = 0; r < k; r++) /* columns past the last window */
                for (int64_t c = Wq * k; c < Wo; c++)
                    r0[r * Wo + c] = 0;
        }
        zero_bytes(gj + Hq * k * Wo, (size_t)((Ho - Hq * k) * Wo) * sizeof(T));
    }
}

#undef LN_CAT_
#undef LN_CAT
#undef LN
#undef LN_VEC
#undef LN_IVEC
#undef LN_U8
#undef LN_FWD
#undef LN_FWD1
#undef LN_FWD2
#undef LN_FWD1_CASE
#undef LN_FWD2_CASE
#undef LN_DW_NT
#undef LN_DX
#undef LN_DX_CASE
