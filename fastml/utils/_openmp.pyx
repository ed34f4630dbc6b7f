# distutils: sources = csrc/cpu.c
"""What the compiled extensions know about OpenMP and the CPU."""
from fastml.utils._openmp_helpers cimport FASTML_OPENMP_ENABLED, omp_get_max_threads


cdef extern from "fastml_cpu.h":
    const char *fastml_simd_path() noexcept nogil


def openmp_enabled():
    """True if the extensions were compiled with OpenMP."""
    return bool(FASTML_OPENMP_ENABLED)


def omp_max_threads():
    """omp_get_max_threads(): honours OMP_NUM_THREADS; 1 in a serial build."""
    return omp_get_max_threads()


def simd_path():
    """The instruction set the csrc/ loops dispatch to on this CPU."""
    return fastml_simd_path().decode("ascii")
