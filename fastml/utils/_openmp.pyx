# distutils: sources = csrc/cpu.c
"""What the compiled extensions know about OpenMP and the CPU."""
from fastml.utils._openmp_helpers cimport FASTML_OPENMP_ENABLED, omp_get_max_threads


cdef extern from "fastml_cpu.h":
    const char *fastml_simd_path() noexcept nogil
    int fastml_cpu_detected_level() noexcept nogil
    int fastml_cpu_cap_level() noexcept nogil
    int fastml_cpu_used_level() noexcept nogil
    int fastml_cpu_dispatch_built() noexcept nogil

SIMD_LEVELS = ("baseline", "avx2", "avx512")


def openmp_enabled():
    """True if the extensions were compiled with OpenMP."""
    return bool(FASTML_OPENMP_ENABLED)


def omp_max_threads():
    """omp_get_max_threads(): honours OMP_NUM_THREADS; 1 in a serial build."""
    return omp_get_max_threads()


def simd_path():
    """The instruction-set level the csrc/ kernels run at in this process."""
    return fastml_simd_path().decode("ascii")


def simd_detected():
    """The highest level this CPU supports ("baseline", "avx2" or "avx512"); in a build
    without per-level kernels, the level the kernels were compiled for."""
    return SIMD_LEVELS[fastml_cpu_detected_level()]


def simd_dispatch_built():
    """True if the kernels were compiled once per level (x86-64 with GCC or clang)."""
    return bool(fastml_cpu_dispatch_built())
