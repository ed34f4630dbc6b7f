/* The loops of csrc/svm.c that depend on the kernel's storage type, written once for
 * SVM_T (float or double) and the suffix SVM_S (f32 or f64); included twice by svm.c. */
#define SVM_CAT2_(a, b) a##_##b
#define SVM_CAT_(a, b) SVM_CAT2_(a, b)
#define SVM_NAME(base) SVM_CAT_(base, SVM_S)

/* One SMO step's choice of the pair (i, j), libsvm's rule: i maximises -y_t G_t over I_up,
 * j minimises the second-order decrease -(G_i' + G_j')^2 / quad among the violating
 * partners (quad <= 0 replaced by TAU); ties go to the later index. Returns 0 when the
 * gap is below eps or no pair exists. */
static int SVM_NAME(svm_pick)(int64_t n, const SVM_T *Q, int64_t ldq, const double *QD,
                              const int8_t *y, const double *G, const uint8_t *st, double eps,
                              int64_t *out_i, int64_t *out_j)
{
    double gmax = -SVM_INF, gmax2 = -SVM_INF, best = SVM_INF;
    int64_t i = -1, j = -1, t;
    for (t = 0; t < n; t++) {
        if (y[t] > 0) {
            if (st[t] != SVM_UPPER && -G[t] >= gmax) {
                gmax = -G[t];
                i = t;
            }
        } else if (st[t] != SVM_LOWER && G[t] >= gmax) {
            gmax = G[t];
            i = t;
        }
    }
    if (i < 0)
        return 0;
    const SVM_T *Qi = Q + i * ldq;
    const double yi = (double)y[i], qdi = QD[i];
    for (t = 0; t < n; t++) {
        double diff, quad, obj;
        if (y[t] > 0) {
            if (st[t] == SVM_LOWER)
                continue;
            if (G[t] >= gmax2)
                gmax2 = G[t];
            diff = gmax + G[t];
            if (!(diff > 0)) /* (NaN too) */
                continue;
            quad = qdi + QD[t] - 2.0 * yi * (double)Qi[t];
        } else {
            if (st[t] == SVM_UPPER)
                continue;
            if (-G[t] >= gmax2)
                gmax2 = -G[t];
            diff = gmax - G[t];
            if (!(diff > 0))
                continue;
            quad = qdi + QD[t] + 2.0 * yi * (double)Qi[t];
        }
        obj = -(diff * diff) / (quad > 0 ? quad : SVM_TAU);
        if (obj <= best) {
            best = obj;
            j = t;
        }
    }
    if (gmax + gmax2 < eps || j < 0)
        return 0;
    *out_i = i;
    *out_j = j;
    return 1;
}

/* The same for nu problems: i and j of the same sign (libsvm's Solver_NU). */
static int SVM_NAME(svm_pick_nu)(int64_t n, const SVM_T *Q, int64_t ldq, const double *QD,
                                 const int8_t *y, const double *G, const uint8_t *st,
                                 double eps, int64_t *out_i, int64_t *out_j)
{
    double gmaxp = -SVM_INF, gmaxp2 = -SVM_INF, gmaxn = -SVM_INF, gmaxn2 = -SVM_INF;
    double best = SVM_INF;
    int64_t ip = -1, in = -1, j = -1, t;
    for (t = 0; t < n; t++) {
        if (y[t] > 0) {
            if (st[t] != SVM_UPPER && -G[t] >= gmaxp) {
                gmaxp = -G[t];
                ip = t;
            }
        } else if (st[t] != SVM_LOWER && G[t] >= gmaxn) {
            gmaxn = G[t];
            in = t;
        }
    }
    const SVM_T *Qp = ip >= 0 ? Q + ip * ldq : NULL;
    const SVM_T *Qn = in >= 0 ? Q + in * ldq : NULL;
    for (t = 0; t < n; t++) {
        double diff, quad, obj;
        if (y[t] > 0) {
            if (st[t] == SVM_LOWER)
                continue;
            if (G[t] >= gmaxp2)
                gmaxp2 = G[t];
            diff = gmaxp + G[t];
            if (ip < 0 || !(diff > 0))
                continue;
            quad = QD[ip] + QD[t] - 2.0 * (double)Qp[t];
        } else {
            if (st[t] == SVM_UPPER)
                continue;
            if (-G[t] >= gmaxn2)
                gmaxn2 = -G[t];
            diff = gmaxn - G[t];
            if (in < 0 || !(diff > 0))
                continue;
            quad = QD[in] + QD[t] - 2.0 * (double)Qn[t];
        }
        obj = -(diff * diff) / (quad > 0 ? quad : SVM_TAU);
        if (obj <= best) {
            best = obj;
            j = t;
        }
    }
    double gp = gmaxp + gmaxp2, gn = gmaxn + gmaxn2;
    if ((gp > gn ? gp : gn) < eps || j < 0)
        return 0;
    *out_i = y[j] > 0 ? ip : in;
    *out_j = j;
    return 1;
}

int64_t SVM_NAME(fastml_svm_smo)(int64_t n, const SVM_T *Q, int64_t ldq, const double *QD,
                                 const int8_t *y, const double *C, double *alpha, double *G,
                                 uint8_t *st, int nu, double eps, int64_t max_steps,
                                 int *converged)
{
    int64_t steps = 0, i = 0, j = 0, t;
    for (t = 0; t < n; t++)
        st[t] = svm_status(alpha[t], C[t]);
    *converged = 0;
    for (;;) {
        if (steps >= max_steps) /* checked first, as libsvm checks max_iter */
            break;
        int found = nu ? SVM_NAME(svm_pick_nu)(n, Q, ldq, QD, y, G, st, eps, &i, &j)
                       : SVM_NAME(svm_pick)(n, Q, ldq, QD, y, G, st, eps, &i, &j);
        if (!found) {
            *converged = 1;
            break;
        }
        steps++;
        const SVM_T *Qi = Q + i * ldq, *Qj = Q + j * ldq;
        const double Ci = C[i], Cj = C[j];
        const double ai0 = alpha[i], aj0 = alpha[j];
        double ai = ai0, aj = aj0;
        if (y[i] != y[j]) {
            double quad = QD[i] + QD[j] + 2.0 * (double)Qi[j];
            if (quad <= 0)
                quad = SVM_TAU;
            const double delta = (-G[i] - G[j]) / quad;
            const double diff = ai - aj;
            ai += delta;
            aj += delta;
            if (diff > 0) {
                if (aj < 0) {
                    aj = 0;
                    ai = diff;
                }
            } else if (ai < 0) {
                ai = 0;
                aj = -diff;
            }
            if (diff > Ci - Cj) {
                if (ai > Ci) {
                    ai = Ci;
                    aj = Ci - diff;
                }
            } else if (aj > Cj) {
                aj = Cj;
                ai = Cj + diff;
            }
        } else {
            double quad = QD[i] + QD[j] - 2.0 * (double)Qi[j];
            if (quad <= 0)
                quad = SVM_TAU;
            const double delta = (G[i] - G[j]) / quad;
            const double sum = ai + aj;
            ai -= delta;
            aj += delta;
            if (sum > Ci) {
                if (ai > Ci) {
                    ai = Ci;
                    aj = sum - Ci;
                }
            } else if (aj < 0) {
                aj = 0;
                ai = sum;
            }
            if (sum > Cj) {
                if (aj > Cj) {
                    aj = Cj;
                    ai = sum - Cj;
                }
            } else if (ai < 0) {
                ai = 0;
                aj = sum;
            }
        }
        alpha[i] = ai;
        alpha[j] = aj;
        const double di = ai - ai0, dj = aj - aj0;
        if (di == 0 && dj == 0) {
            /* a step that moves nothing leaves the state, hence the next choice, as it
             * was: libsvm would loop here for ever (rounding on badly scaled data) */
            *converged = 2;
            break;
        }
        for (t = 0; t < n; t++)
            G[t] += (double)Qi[t] * di + (double)Qj[t] * dj;
        st[i] = svm_status(ai, Ci);
        st[j] = svm_status(aj, Cj);
    }
    return steps;
}

void SVM_NAME(fastml_svm_gather)(int64_t n, const SVM_T *const *rows, const int32_t *col,
                                 const int8_t *y, SVM_T *Q, double *QD)
{
    for (int64_t a = 0; a < n; a++) {
        const SVM_T *r = rows[a];
        SVM_T *q = Q + a * n;
        const int8_t ya = y[a];
        for (int64_t b = 0; b < n; b++) {
            const SVM_T v = r[col[b]];
            q[b] = ya == y[b] ? v : -v;
        }
        QD[a] = (double)r[col[a]];
    }
}

void SVM_NAME(fastml_svm_gemv)(int64_t nr, const SVM_T *const *rows, const double *c,
                               int64_t u0, int64_t u1, double *g)
{
    const int64_t w = u1 - u0;
    int64_t r = 0, u;
    for (u = 0; u < w; u++)
        g[u] = 0;
    /* four rows at a time: g is read and written once per four rows */
    for (; r + 4 <= nr; r += 4) {
        const SVM_T *r0 = rows[r] + u0, *r1 = rows[r + 1] + u0;
        const SVM_T *r2 = rows[r + 2] + u0, *r3 = rows[r + 3] + u0;
        const double c0 = c[r], c1 = c[r + 1], c2 = c[r + 2], c3 = c[r + 3];
#pragma omp simd
        for (u = 0; u < w; u++)
            g[u] = g[u] + c0 * (double)r0[u] + c1 * (double)r1[u] + c2 * (double)r2[u]
                   + c3 * (double)r3[u];
    }
    for (; r < nr; r++) {
        const SVM_T *r0 = rows[r] + u0;
        const double c0 = c[r];
#pragma omp simd
        for (u = 0; u < w; u++)
            g[u] = g[u] + c0 * (double)r0[u];
    }
}

#undef SVM_NAME
#undef SVM_CAT_
#undef SVM_CAT2_
