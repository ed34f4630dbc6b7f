# Ctrl-C inside long compiled loops (the idea of rapidfuzz's cdist: the GIL is released,
# and the loop looks for pending signals every so often).
#
# Python runs signal handlers only in the main thread, and the thread that enters an
# OpenMP parallel region is its thread 0. So thread 0 of a region (the calling Python
# thread) takes the GIL every few blocks of work and runs the pending handlers; if one
# raised (KeyboardInterrupt for Ctrl-C), it sets ``stop[0]`` and leaves the exception set
# in its own thread state. Every thread skips its remaining work once ``stop[0]`` is set;
# after the region, with the GIL held, the caller calls ``raise_pending()`` which
# propagates that exception.
#
#     cdef int stop_flag = 0     # (any int the threads can see through a pointer)
#     cdef int *stop = &stop_flag
#     with nogil:
#         for i in prange(n, ...):
#             if stopped(stop):
#                 continue
#             if omp_get_thread_num() == 0 and i % 16 == 0 and check_signals(stop):
#                 continue
#             ... work ...
#     if stopped(stop):
#         raise_pending()
cdef extern from "Python.h":
    int PyErr_CheckSignals() noexcept
    void *PyErr_Occurred() noexcept

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    static inline int fastml_flag_get(int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
    static inline void fastml_flag_set(int *p) { __atomic_store_n(p, 1, __ATOMIC_RELAXED); }
    #else
    static inline int fastml_flag_get(int *p) { return *(volatile int *)p; }
    static inline void fastml_flag_set(int *p) { *(volatile int *)p = 1; }
    #endif
    """
    int fastml_flag_get(int *p) noexcept nogil
    void fastml_flag_set(int *p) noexcept nogil


cdef inline bint stopped(int *stop) noexcept nogil:
    """True once a signal handler raised (any thread may ask)."""
    return fastml_flag_get(stop) != 0


cdef inline bint check_signals(int *stop) noexcept nogil:
    """Run pending signal handlers (call from thread 0 only); True once one raised."""
    if fastml_flag_get(stop):
        return True
    with gil:
        if PyErr_CheckSignals() != 0:
            fastml_flag_set(stop)
    return fastml_flag_get(stop) != 0


cdef inline int raise_pending() except -1:
    """Propagate the exception left by a signal handler (GIL held)."""
    if PyErr_Occurred() == NULL:
        raise KeyboardInterrupt
    return -1
