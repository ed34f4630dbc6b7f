# Every omp_* call in fastml goes through this file. In a build without OpenMP the
# stubs below make the same Cython code compile and run serially (the idea of
# scikit-learn's sklearn/utils/_openmp_helpers.pxd).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTML_OPENMP_ENABLED 1
    #else
    #define FASTML_OPENMP_ENABLED 0
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    static inline int omp_get_num_threads(void) { return 1; }
    #endif
    """
    bint FASTML_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil
