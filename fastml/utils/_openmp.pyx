# distutils: sources = csrc/cpu.c
"""What the compiled extensions know about OpenMP and the CPU."""
from cython.parallel cimport parallel

from fastml.utils._openmp_helpers cimport (
    FASTML_OPENMP_ENABLED,
    omp_get_max_threads,
    omp_get_num_threads,
    omp_get_thread_num,
)

from fastml.utils._csrc cimport (
    fastml_cpu_cap_level, fastml_cpu_detected_level, fastml_cpu_dispatch_built,
    fastml_cpu_level_name, fastml_cpu_nlevels, fastml_cpu_used_level, fastml_simd_path,
)


# the level names as compiled into the C dispatch (fastml_levels.h, generated from
# fastml/_simd_levels.py), lowest first
SIMD_LEVELS = tuple(fastml_cpu_level_name(i).decode("ascii") for i in range(fastml_cpu_nlevels()))


def openmp_enabled():
    """True if the extensions were compiled with OpenMP."""
    return bool(FASTML_OPENMP_ENABLED)


def omp_max_threads():
    """omp_get_max_threads(): honours OMP_NUM_THREADS; 1 in a serial build."""
    return omp_get_max_threads()


def parallel_region_threads(n_threads):
    """The size of the team OpenMP actually starts for a parallel region asked to run on
    ``n_threads`` threads, as fastml's kernels ask (``num_threads=n``); OpenMP may give
    fewer (``OMP_THREAD_LIMIT``, ``OMP_DYNAMIC``). 1 in a serial build. A probe for tests
    and ``fastml info``."""
    cdef int n = int(n_threads)
    cdef int[1] seen
    cdef int *box = seen  # written through a pointer: shared, not private to the block
    if n < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads!r}.")
    box[0] = 1
    with nogil, parallel(num_threads=n):
        if omp_get_thread_num() == 0:
            box[0] = omp_get_num_threads()
    return int(seen[0])


def simd_path():
    """The instruction-set level the csrc/ kernels run at in this process."""
    return fastml_simd_path().decode("ascii")


def simd_detected():
    """The highest level this CPU supports (a name of ``SIMD_LEVELS``); in a build without
    per-level kernels, the level the kernels were compiled for."""
    return SIMD_LEVELS[fastml_cpu_detected_level()]


def simd_dispatch_built():
    """True if the kernels were compiled once per level (x86-64 with GCC or clang)."""
    return bool(fastml_cpu_dispatch_built())
