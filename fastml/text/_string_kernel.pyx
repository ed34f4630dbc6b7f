"""Compiled core of fastml.text: p-gram interning and inverted-index string kernels.

Inputs are validated by fastml.text._api (texts are UCS-4 code points in
one uint32 buffer with int64 document offsets); nothing here re-checks them.

Interning: one open-addressing hash table per p. For p <= 6 the 128-bit key is the p-gram
itself (code points are < 2^21, so three pack exactly into 63 bits). A longer p-gram is
the (p-1)-gram at the same position followed by one code point, so its exact key is the
pair (id of that (p-1)-gram, last code point): the p > 6 are interned one after another
from the 6-gram ids, each position costing O(1) whatever p is (no hash of p code points,
no comparison of p code points), and distinct p-grams never share an id. The p <= 6 of
a range, and the chain of the longer ones, run as parallel tasks. Ids are in first-seen
order per p, offset so that the whole range shares one feature space.

Kernels: the postings (document, count) of every feature of B, built by a counting sort;
each row of A scatters its features' postings into a per-thread dense accumulator of
length |B| (presence: +1, spectrum: +count*count, intersection: +min), so the work is the
sum over shared features of the postings products. In the symmetric case each row only
visits the postings after its own entry (j >= i): every pair once, and blocks of rows
write their transpose while in cache.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

from fastml.utils._interrupt cimport check_signals, raise_pending, stopped
from fastml.utils._openmp_helpers cimport omp_get_thread_num

import numpy as np

KIND_PRESENCE = 0
KIND_SPECTRUM = 1
KIND_INTERSECTION = 2

# p-grams up to this length are packed exactly into a 64-bit key (21 bits per code point)
cdef enum:
    EXACT_P = 3

ctypedef fused acc_t:
    int32_t
    int64_t


cdef inline uint64_t _mix(uint64_t h) noexcept nogil:
    # finaliser of MurmurHash3 (public domain, Austin Appleby)
    h ^= h >> 33
    h *= 0xff51afd7ed558ccdULL
    h ^= h >> 33
    h *= 0xc4ceb9fe1a85ec53ULL
    h ^= h >> 33
    return h


cdef struct Entry:
    uint64_t k0
    uint64_t k1
    int64_t id


# Tests keep only a few bits of the slot hash to force long probe sequences (many
# distinct keys competing for the same slots) and check that ids stay exact.
cdef uint64_t _hash_mask = 0xffffffffffffffffULL


def _set_hash_bits_for_tests(int bits):
    """Keep only the low ``bits`` bits of the slot hash (64: normal operation)."""
    global _hash_mask
    _hash_mask = 0xffffffffffffffffULL if bits >= 64 else ((<uint64_t>1 << bits) - 1)


cdef inline uint64_t _pack(const uint32_t *s, int p) noexcept nogil:
    cdef uint64_t k = 0
    cdef int q
    for q in range(p):
        k = (k << 21) | s[q]
    return k


cdef inline void _keys(const uint32_t *s, int p, uint64_t *k0, uint64_t *k1) noexcept nogil:
    """A p-gram with p <= 6 as an exact 128-bit key (three 21-bit code points per word)."""
    if p <= 3:
        k0[0] = _pack(s, p)
        k1[0] = 0
    else:
        k0[0] = _pack(s, 3)
        k1[0] = _pack(s + 3, p - 3)


cdef inline int64_t _slot_of(uint64_t k0, uint64_t k1, int shift) noexcept nogil:
    return <int64_t>((((k0 ^ (k1 * 0xc4ceb9fe1a85ec53ULL)) * 0x9E3779B97F4A7C15ULL) >> shift)
                     & _hash_mask)


cdef Entry *_new_table(int bits) noexcept nogil:
    cdef int64_t i, cap = <int64_t>1 << bits
    cdef Entry *t = <Entry *>malloc(cap * sizeof(Entry))
    if t != NULL:
        for i in range(cap):
            t[i].id = -1
    return t


cdef int _intern_one_p(const uint32_t *c, const int64_t *offsets, int64_t n_docs, int p,
                       int32_t *chain, bint from_chain, int64_t *first_pos, int32_t *last_doc,
                       int32_t *slot, int32_t *ids, int32_t *counts, int64_t *row_nnz,
                       int64_t *n_feat_out, int *stop) noexcept nogil:
    """Intern the p-grams of every document into ids 0, 1, ... (first-seen order); per
    document its distinct ids (in first-occurrence order) and counts, appended to
    ids/counts, with row_nnz[d] entries for document d. The key of the p-gram at
    position pos is the packed p-gram (p <= 6), or with ``from_chain`` the pair
    (chain[pos], c[pos + p - 1]) where chain[pos] is the id of the (p-1)-gram there;
    with ``chain`` not NULL the p-gram's id is then stored in chain[pos]. The hash table
    starts small and doubles at load 1/2 (so it stays in cache for small vocabularies).
    Returns -1 when out of memory, -2 when interrupted (Ctrl-C), else 0."""
    cdef int bits = 12
    cdef Entry *table = _new_table(bits)
    cdef Entry *old
    cdef uint64_t mask = (<uint64_t>1 << bits) - 1, k0, k1
    cdef int shift = 64 - bits
    cdef int64_t d, pos, h, n_feat = 0, nnz = 0, row0, fid, i, old_cap
    cdef Entry *en
    if table == NULL:
        return -1
    for d in range(n_docs):
        if (d & 255) == 255 and (stopped(stop) or (
                omp_get_thread_num() == 0 and check_signals(stop))):
            free(table)
            return -2
        row0 = nnz
        for pos in range(offsets[d], offsets[d + 1] - p + 1):
            if from_chain:
                k0 = <uint64_t>chain[pos]
                k1 = c[pos + p - 1]
            else:
                _keys(c + pos, p, &k0, &k1)
            h = _slot_of(k0, k1, shift)
            while True:
                en = &table[h]
                if en.id < 0:
                    fid = n_feat
                    n_feat += 1
                    en.id = fid
                    en.k0 = k0
                    en.k1 = k1
                    first_pos[fid] = pos
                    last_doc[fid] = -1
                    if 2 * n_feat > <int64_t>mask:  # grow: rehash by the stored keys
                        old = table
                        old_cap = <int64_t>mask + 1
                        bits += 1
                        table = _new_table(bits)
                        if table == NULL:
                            free(old)
                            return -1
                        mask = (<uint64_t>1 << bits) - 1
                        shift = 64 - bits
                        for i in range(old_cap):
                            if old[i].id >= 0:
                                h = _slot_of(old[i].k0, old[i].k1, shift)
                                while table[h].id >= 0:
                                    h = <int64_t>((<uint64_t>h + 1) & mask)
                                table[h] = old[i]
                        free(old)
                    break
                if en.k0 == k0 and en.k1 == k1:
                    fid = en.id
                    break
                h = <int64_t>((<uint64_t>h + 1) & mask)
            if chain != NULL:
                chain[pos] = <int32_t>fid
            if last_doc[fid] != d:
                last_doc[fid] = <int32_t>d
                slot[fid] = <int32_t>(nnz - row0)
                ids[nnz] = <int32_t>fid
                counts[nnz] = 1
                nnz += 1
            else:
                counts[row0 + slot[fid]] += 1
        row_nnz[d] = nnz - row0
    free(table)
    n_feat_out[0] = n_feat
    return 0


cdef int _intern_chain(const uint32_t *c, const int64_t *offsets, int64_t n_docs, int p1,
                       int p2, int32_t *chain, const int64_t *pstart, int64_t *fpos,
                       int32_t *last, int32_t *slot, int32_t *pids, int32_t *pcnt,
                       int64_t *rnnz, int64_t rstride, int64_t *nfeat, int64_t *s_fpos,
                       int32_t *s_last, int32_t *s_slot, int32_t *s_ids, int32_t *s_cnt,
                       int64_t *s_rnnz, int64_t *s_nfeat, int *stop) noexcept nogil:
    """The p = 6 .. p2 one after another (p2 > 6), each from the ids of p - 1; a p >= p1
    is written to its region (index p - p1), a smaller one to the scratch buffers."""
    cdef int p, pi, st
    for p in range(EXACT_P * 2, p2 + 1):
        if p >= p1:
            pi = p - p1
            st = _intern_one_p(c, offsets, n_docs, p, chain, p > EXACT_P * 2,
                               &fpos[pstart[pi]], &last[pstart[pi]], &slot[pstart[pi]],
                               &pids[pstart[pi]], &pcnt[pstart[pi]], &rnnz[pi * rstride + 1],
                               &nfeat[pi], stop)
        else:
            st = _intern_one_p(c, offsets, n_docs, p, chain, p > EXACT_P * 2, s_fpos,
                               s_last, s_slot, s_ids, s_cnt, s_rnnz, s_nfeat, stop)
        if st < 0:
            return st
    return 0


cdef inline void _insertion_sort(uint64_t *a, int64_t n) noexcept nogil:
    cdef int64_t i, j
    cdef uint64_t v
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


cdef void _sort_u64(uint64_t *a, int64_t n) noexcept nogil:
    """Quicksort (median of three, insertion sort below 24, recursion on the smaller
    part only, so the stack depth is O(log n))."""
    cdef int64_t i, j, mid
    cdef uint64_t pivot, t
    while n > 24:
        mid = n // 2
        if a[mid] < a[0]:
            t = a[mid]; a[mid] = a[0]; a[0] = t
        if a[n - 1] < a[0]:
            t = a[n - 1]; a[n - 1] = a[0]; a[0] = t
        if a[n - 1] < a[mid]:
            t = a[n - 1]; a[n - 1] = a[mid]; a[mid] = t
        pivot = a[mid]
        i = 0
        j = n - 1
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]; a[i] = a[j]; a[j] = t
                i += 1
                j -= 1
        # now a[0..j] <= pivot <= a[i..n-1]
        if j + 1 < n - i:
            _sort_u64(a, j + 1)
            a = a + i
            n = n - i
        else:
            _sort_u64(a + i, n - i)
            n = j + 1
    _insertion_sort(a, n)


def intern_ngrams(const uint32_t[::1] codes, const int64_t[::1] offsets, int p1, int p2,
                  int n_threads):
    """Per document, its distinct p-grams (p1 <= p <= p2) as sorted (id, count) pairs.

    Every p is interned by one task (tasks run in parallel); ids are per p in first-seen
    order, then offset so that all p of the range share one id space (p1's ids first),
    which is independent of the number of threads. Returns ``indptr`` (n_docs + 1, int64),
    ``ids`` and ``counts`` (int32, CSR order, ids increasing within a document), and per
    feature ``first_pos`` (int64, the offset of its first occurrence in ``codes``) and
    ``feat_p`` (int32, its length p).
    """
    cdef int64_t n_docs = offsets.shape[0] - 1
    cdef int n_p = p2 - p1 + 1, pi, p
    cdef int64_t d, e, q, k, base, total
    lengths = np.diff(np.asarray(offsets))
    positions = np.array([int(np.maximum(lengths - p + 1, 0).sum()) for p in range(p1, p2 + 1)],
                         dtype=np.int64)
    total = int(positions.sum())
    if total >= 2**31 - 1:
        raise ValueError(f"The texts hold {total} p-grams; at most 2**31 - 2 are supported.")
    pstart_a = np.zeros(n_p + 1, dtype=np.int64)
    pstart_a[1:] = np.cumsum(positions)
    cdef int64_t nb = max(total, 1)
    fpos_a = np.empty(nb, dtype=np.int64)
    last_a = np.empty(nb, dtype=np.int32)
    slot_a = np.empty(nb, dtype=np.int32)
    pids_a = np.empty(nb, dtype=np.int32)
    pcnt_a = np.empty(nb, dtype=np.int32)
    rnnz_a = np.zeros((n_p, n_docs + 1), dtype=np.int64)
    nfeat_a = np.zeros(n_p, dtype=np.int64)
    cdef int64_t[::1] fpos = fpos_a, nfeat = nfeat_a
    cdef int32_t[::1] last = last_a, slot = slot_a, pids = pids_a, pcnt = pcnt_a
    cdef int64_t[:, ::1] rnnz = rnnz_a
    cdef const int64_t[::1] pstart = pstart_a
    # tasks: every p <= 6 of the range on its own; with p2 > 6 one more task interns
    # 6 .. p2 as a chain (and then owns p = 6)
    cdef bint has_chain = p2 > 2 * EXACT_P
    cdef int n_direct = max(0, min(p2, 2 * EXACT_P - 1 if has_chain else 2 * EXACT_P) - p1 + 1)
    cdef int n_tasks = n_direct + (1 if has_chain else 0)
    status_a = np.zeros(n_tasks, dtype=np.int32)
    cdef int32_t[::1] status = status_a
    cdef const uint32_t *c = &codes[0] if codes.shape[0] > 0 else NULL
    # chain ids per position, and scratch for the chain's levels below p1
    cdef int64_t n_scratch = int(np.maximum(lengths - 2 * EXACT_P + 1, 0).sum()) if (
        has_chain and p1 > 2 * EXACT_P) else 0
    chain_a = np.empty(max(codes.shape[0], 1) if has_chain else 1, dtype=np.int32)
    s64_a = np.empty(max(n_scratch, 1), dtype=np.int64)
    s32_a = np.empty((4, max(n_scratch, 1)), dtype=np.int32)
    srnnz_a = np.zeros(n_docs + 1, dtype=np.int64)
    snfeat_a = np.zeros(1, dtype=np.int64)
    cdef int32_t[::1] chain = chain_a
    cdef int64_t[::1] s64 = s64_a, srnnz = srnnz_a, snfeat = snfeat_a
    cdef int32_t[:, ::1] s32 = s32_a
    cdef int ti, stop_flag = 0
    cdef int *stop = &stop_flag
    with nogil:
        for ti in prange(n_tasks, schedule="dynamic", chunksize=1,
                         num_threads=max(1, min(n_threads, n_tasks))):
            if ti < n_direct:
                pi = ti
                status[ti] = _intern_one_p(c, &offsets[0], n_docs, p1 + pi, NULL, False,
                                           &fpos[pstart[pi]], &last[pstart[pi]],
                                           &slot[pstart[pi]], &pids[pstart[pi]],
                                           &pcnt[pstart[pi]], &rnnz[pi, 1], &nfeat[pi],
                                           stop)
            else:
                status[ti] = _intern_chain(c, &offsets[0], n_docs, p1, p2, &chain[0],
                                           &pstart[0], &fpos[0], &last[0], &slot[0],
                                           &pids[0], &pcnt[0], &rnnz[0, 0], n_docs + 1,
                                           &nfeat[0], &s64[0], &s32[0, 0], &s32[1, 0],
                                           &s32[2, 0], &s32[3, 0], &srnnz[1], &snfeat[0],
                                           stop)
    if stopped(stop):
        raise_pending()
    if n_tasks and status_a.min() < 0:
        raise MemoryError("fastml.text: out of memory while interning p-grams.")
    del last_a, slot_a, chain_a, s64_a, s32_a
    # per p: row starts inside its region; overall: id offsets and the merged indptr
    prow_a = np.cumsum(rnnz_a, axis=1)  # prow[pi, d] = start of document d in p's region
    idoff_a = np.zeros(n_p + 1, dtype=np.int64)
    idoff_a[1:] = np.cumsum(nfeat_a)
    indptr_a = np.zeros(n_docs + 1, dtype=np.int64)
    indptr_a[1:] = np.cumsum(rnnz_a[:, 1:].sum(axis=0))
    cdef int64_t nnz = indptr_a[n_docs], n_feat = idoff_a[n_p]
    ids_a = np.empty(nnz, dtype=np.int32)
    counts_a = np.empty(nnz, dtype=np.int32)
    packed_a = np.empty(max(nnz, 1), dtype=np.uint64)
    cdef int64_t[::1] indptr = indptr_a
    cdef const int64_t[:, ::1] prow = prow_a
    cdef const int64_t[::1] idoff = idoff_a
    cdef int32_t[::1] ids = ids_a, counts = counts_a
    cdef uint64_t[::1] packed = packed_a
    with nogil:
        for d in prange(n_docs, schedule="dynamic", chunksize=64, num_threads=n_threads):
            e = indptr[d]
            for pi in range(n_p):
                base = e
                for k in range(pstart[pi] + prow[pi, d], pstart[pi] + prow[pi, d + 1]):
                    packed[e] = (<uint64_t>(pids[k] + idoff[pi]) << 32) | <uint32_t>pcnt[k]
                    e = e + 1
                _sort_u64(&packed[base], e - base)
            for q in range(indptr[d], e):
                ids[q] = <int32_t>(packed[q] >> 32)
                counts[q] = <int32_t>(packed[q] & 0xffffffffULL)
    first_pos_a = np.empty(n_feat, dtype=np.int64)
    feat_p_a = np.empty(n_feat, dtype=np.int32)
    for pi in range(n_p):
        first_pos_a[idoff_a[pi]:idoff_a[pi + 1]] = fpos_a[pstart_a[pi]:pstart_a[pi] + nfeat_a[pi]]
        feat_p_a[idoff_a[pi]:idoff_a[pi + 1]] = p1 + pi
    return indptr_a, ids_a, counts_a, first_pos_a, feat_p_a


def build_postings(const int64_t[::1] indptr, const int32_t[::1] ids,
                   const int32_t[::1] counts, int64_t n_features):
    """Inverted index of a document CSR: for feature f, the documents post_doc[ptr[f]:
    ptr[f + 1]] (increasing) with their counts; ``entry_pos[e]`` is where CSR entry e
    landed in the postings (used to start the symmetric scan at the diagonal)."""
    cdef int64_t n = indptr.shape[0] - 1, d, e, k, f
    cdef int64_t e0 = indptr[0], nnz = indptr[n] - indptr[0]
    ptr_a = np.zeros(n_features + 1, dtype=np.int64)
    fill_a = np.empty(n_features, dtype=np.int64)
    doc_a = np.empty(nnz, dtype=np.int32)
    cnt_a = np.empty(nnz, dtype=np.int32)
    pos_a = np.empty(nnz, dtype=np.int64)
    cdef int64_t[::1] ptr = ptr_a, fill = fill_a, epos = pos_a
    cdef int32_t[::1] pdoc = doc_a, pcnt = cnt_a
    with nogil:
        for e in range(e0, e0 + nnz):
            ptr[ids[e] + 1] += 1
        for f in range(n_features):
            ptr[f + 1] += ptr[f]
            fill[f] = ptr[f]
        for d in range(n):
            for e in range(indptr[d], indptr[d + 1]):
                f = ids[e]
                k = fill[f]
                fill[f] = k + 1
                pdoc[k] = <int32_t>d
                pcnt[k] = counts[e]
                epos[e - e0] = k
    return ptr_a, doc_a, cnt_a, pos_a


cdef inline void _scatter_row(const int64_t *a_ptr, const int32_t *a_ids, const int32_t *a_cnt,
                              int64_t i, const int64_t *p_ptr, const int32_t *p_doc,
                              const int32_t *p_cnt, const int64_t *entry_pos, bint symmetric,
                              int kind, acc_t *acc) noexcept nogil:
    cdef int64_t e, k, k0, k1
    cdef int32_t f, ca, cb
    for e in range(a_ptr[i], a_ptr[i + 1]):
        f = a_ids[e]
        k0 = entry_pos[e] if symmetric else p_ptr[f]
        k1 = p_ptr[f + 1]
        if kind == 0:
            for k in range(k0, k1):
                acc[p_doc[k]] += 1
        elif kind == 1:
            ca = a_cnt[e]
            for k in range(k0, k1):
                acc[p_doc[k]] += <acc_t>ca * <acc_t>p_cnt[k]
        else:
            ca = a_cnt[e]
            for k in range(k0, k1):
                cb = p_cnt[k]
                acc[p_doc[k]] += ca if ca < cb else cb


cdef inline void _flush_row(floating *orow, acc_t *acc, int64_t j0, int64_t m, bint scaled,
                            double si, const double *sy) noexcept nogil:
    cdef int64_t j
    if scaled:
        for j in range(j0, m):
            orow[j] = <floating>(<double>acc[j] * si * sy[j])
            acc[j] = 0
    else:
        for j in range(j0, m):
            orow[j] = <floating>acc[j]
            acc[j] = 0


def kernel_rows(floating[:, ::1] out, acc_t[:, ::1] acc,
                const int64_t[::1] a_ptr, const int32_t[::1] a_ids, const int32_t[::1] a_cnt,
                const int64_t[::1] p_ptr, const int32_t[::1] p_doc, const int32_t[::1] p_cnt,
                const double[::1] sx, const double[::1] sy, int kind, bint scaled,
                int n_threads):
    """K(A, B): out[i, j] = k(a_i, b_j) (times sx[i] sy[j] when ``scaled``), from the
    postings of B. ``acc`` is zero-filled scratch of shape (n_threads, |B|)."""
    cdef int64_t n = out.shape[0], m = out.shape[1], i
    cdef int t
    cdef double si
    cdef const int32_t *pd = &p_doc[0] if p_doc.shape[0] > 0 else NULL
    cdef const int32_t *pc = &p_cnt[0] if p_cnt.shape[0] > 0 else NULL
    cdef const int32_t *ai = &a_ids[0] if a_ids.shape[0] > 0 else NULL
    cdef const int32_t *ac = &a_cnt[0] if a_cnt.shape[0] > 0 else NULL
    cdef const double *syp = &sy[0] if sy.shape[0] > 0 else NULL
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    if n == 0 or m == 0:
        return
    with nogil:
        for i in prange(n, schedule="dynamic", chunksize=4, num_threads=n_threads):
            if stopped(stop):
                continue
            t = omp_get_thread_num()
            if t == 0 and (i & 7) == 0 and check_signals(stop):
                continue
            _scatter_row(&a_ptr[0], ai, ac, i, &p_ptr[0], pd, pc, NULL, False, kind,
                         &acc[t, 0])
            si = sx[i] if scaled else 1.0
            _flush_row(&out[i, 0], &acc[t, 0], 0, m, scaled, si, syp)
    if stopped(stop):
        raise_pending()


def kernel_rows_symmetric(floating[:, ::1] out, acc_t[:, ::1] acc,
                          const int64_t[::1] a_ptr, const int32_t[::1] a_ids,
                          const int32_t[::1] a_cnt, const int64_t[::1] p_ptr,
                          const int32_t[::1] p_doc, const int32_t[::1] p_cnt,
                          const int64_t[::1] entry_pos, const double[::1] sx, int kind,
                          bint scaled, int n_threads):
    """K(A, A), each pair once, by blocks of 32 rows: a row i scans only the postings
    after its own entry (j >= i) and writes out[i, i:]; the block then copies its rows,
    while they are still in cache, into its columns below the diagonal (out[j, i] for
    j > i). No separate mirroring pass, and no two threads write the same entry. A scaled
    diagonal is exactly 1 where the self-similarity is non-zero."""
    cdef int64_t n = out.shape[0], m = out.shape[1], i, j, i0, i1, b
    cdef int64_t RB = 32, nb = (n + RB - 1) // RB
    cdef int t
    cdef double si
    cdef const int32_t *pd = &p_doc[0] if p_doc.shape[0] > 0 else NULL
    cdef const int32_t *pc = &p_cnt[0] if p_cnt.shape[0] > 0 else NULL
    cdef const int32_t *ai = &a_ids[0] if a_ids.shape[0] > 0 else NULL
    cdef const int32_t *ac = &a_cnt[0] if a_cnt.shape[0] > 0 else NULL
    cdef const int64_t *ep = &entry_pos[0] if entry_pos.shape[0] > 0 else NULL
    cdef const double *sxp = &sx[0] if sx.shape[0] > 0 else NULL
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    if n == 0:
        return
    with nogil:
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=n_threads):
            if stopped(stop):
                continue
            t = omp_get_thread_num()
            if t == 0 and check_signals(stop):
                continue
            i0 = b * RB
            i1 = min(n, i0 + RB)
            for i in range(i0, i1):
                _scatter_row(&a_ptr[0], ai, ac, i, &p_ptr[0], pd, pc, ep, True, kind,
                             &acc[t, 0])
                si = sxp[i] if scaled else 1.0
                _flush_row(&out[i, 0], &acc[t, 0], i, m, scaled, si, sxp)
                if scaled and si > 0:
                    out[i, i] = 1
            for j in range(i0 + 1, m):
                for i in range(i0, min(i1, j)):
                    out[j, i] = out[i, j]
    if stopped(stop):
        raise_pending()
