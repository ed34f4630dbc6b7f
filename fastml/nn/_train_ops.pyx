"""Fused ReLU -> max-pooling for the trainer (inputs validated by fastml.nn.layers).

``relu(maxpool(x)) == maxpool(relu(x))``, so a ReLU followed by a max-pool with
non-overlapping k x k windows (stride k, no padding) is one pass over the input: each
window's maximum and its position are found, the output is max(maximum, 0), and the
position is kept as one byte (255 when the ReLU zeroes the output, so no gradient flows).
The backward pass writes the whole input gradient in one pass (zeros, then each window's
gradient at its kept position). This replaces four passes over the largest activations
of a CNN (ReLU forward and backward, pooling forward and backward) by two.

Arrays are C-contiguous planes (P = N*C, H, W); OpenMP splits the planes.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf
from libc.string cimport memset

cdef enum:
    KILLED = 255


cdef inline void _fwd2(const floating *x, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                       floating *out, unsigned char *pos) noexcept nogil:
    """k = 2, Wo <= 256: branch-free selection of the first maximum of (a, b, c, d) in each
    window, row-major order. Positions go to an int buffer first and are packed to bytes
    in a second loop: mixing float and byte stores in one loop keeps the compiler from
    vectorising it (about 6x slower)."""
    cdef Py_ssize_t i, j
    cdef const floating *r0
    cdef const floating *r1
    cdef floating *o
    cdef floating a, b, c, d, m01, m23, m
    cdef int g01, g23, g
    cdef int tmp[256]
    for i in range(Ho):
        r0 = x + 2 * i * W
        r1 = r0 + W
        o = out + i * Wo
        for j in range(Wo):
            a = r0[2 * j]
            b = r0[2 * j + 1]
            c = r1[2 * j]
            d = r1[2 * j + 1]
            g01 = b > a
            g23 = d > c
            m01 = b if g01 else a
            m23 = d if g23 else c
            g = m23 > m01
            m = m23 if g else m01
            o[j] = m if m > 0 else 0
            tmp[j] = (2 + g23 if g else g01) if m > 0 else KILLED
        for j in range(Wo):
            pos[i * Wo + j] = <unsigned char>tmp[j]


def relu_maxpool_forward(const floating[:, :, ::1] x, floating[:, :, ::1] out,
                         unsigned char[:, :, ::1] pos, int k, int n_threads):
    """out[p, i, j] = max(0, max of the k x k window at (i k, j k)); pos = the window
    offset (r * k + c) of the first maximum, or 255 when that maximum is <= 0."""
    cdef Py_ssize_t P = x.shape[0], Ho = out.shape[1], Wo = out.shape[2]
    cdef Py_ssize_t p, i, j, r, c
    cdef floating m, v
    cdef int best
    if k == 2 and Wo <= 256:
        for p in prange(P, nogil=True, num_threads=n_threads, schedule="static"):
            _fwd2(&x[p, 0, 0], x.shape[2], Ho, Wo, &out[p, 0, 0], &pos[p, 0, 0])
        return
    for p in prange(P, nogil=True, num_threads=n_threads, schedule="static"):
        for i in range(Ho):
            for j in range(Wo):
                m = x[p, i * k, j * k]
                best = 0
                for r in range(k):
                    for c in range(k):
                        v = x[p, i * k + r, j * k + c]
                        if v > m:
                            m = v
                            best = r * k + c
                if m > 0:
                    out[p, i, j] = m
                    pos[p, i, j] = <unsigned char>best
                else:
                    out[p, i, j] = 0
                    pos[p, i, j] = KILLED


def relu_maxpool_backward(const floating[:, :, ::1] g, const unsigned char[:, :, ::1] pos,
                          floating[:, :, ::1] dx, int k, int n_threads):
    """dx (P, H, W): g[p, i, j] at each window's kept position, zero elsewhere."""
    cdef Py_ssize_t P = dx.shape[0], H = dx.shape[1], W = dx.shape[2]
    cdef Py_ssize_t Ho = g.shape[1], Wo = g.shape[2]
    cdef Py_ssize_t p, i, j
    cdef int b
    for p in prange(P, nogil=True, num_threads=n_threads, schedule="static"):
        memset(&dx[p, 0, 0], 0, H * W * sizeof(floating))
        for i in range(Ho):
            for j in range(Wo):
                b = pos[p, i, j]
                if b != KILLED:
                    dx[p, i * k + b // k, j * k + b % k] = g[p, i, j]


def sgd_update(floating[::1] p, const floating[::1] g, floating[::1] v, double lr,
               double mu, bint nesterov, bint init):
    """One SGD step in place, in one pass (the optimiser's formulas, in the parameter's
    dtype): with momentum mu > 0, v = g when init else v = mu v + g, then
    p -= lr (g + mu v) (Nesterov) or p -= lr v; without momentum p -= lr g."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating a = <floating>lr, m = <floating>mu, t
    if mu == 0:
        with nogil:
            for i in range(n):
                p[i] = p[i] - a * g[i]
        return
    with nogil:
        for i in range(n):
            if init:
                t = g[i]
            else:
                t = m * v[i]
                t = t + g[i]
            v[i] = t
            if nesterov:
                t = m * t
                t = g[i] + t
            p[i] = p[i] - a * t


def adam_update(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] s,
                double beta1, double beta2, double step, double c2, double eps):
    """One Adam step in place, in one pass, each operation rounded in the parameter's dtype
    as numpy's would be (the optimiser's formulas): m = beta1 m + (1 - beta1) g,
    s = beta2 s + (1 - beta2) g^2, p -= step m / (sqrt(s / c2) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating b1 = <floating>beta1, a1 = <floating>(1 - beta1)
    cdef floating b2 = <floating>beta2, a2 = <floating>(1 - beta2)
    cdef floating st = <floating>step, c = <floating>c2, e = <floating>eps
    cdef floating gi, mi, si, r
    with nogil:
        for i in range(n):
            gi = g[i]
            mi = m[i] * b1
            mi = mi + a1 * gi
            m[i] = mi
            si = s[i] * b2
            si = si + a2 * (gi * gi)
            s[i] = si
            si = si / c
            if floating is float:
                r = sqrtf(si)
            else:
                r = sqrt(si)
            r = r + e
            p[i] = p[i] - (st * mi) / r
