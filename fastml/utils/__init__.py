"""Shared helpers: thread counts, input validation, BLAS thread limits."""
from fastml.utils._parallel import (
    blas_threads,
    check_n_jobs,
    effective_n_threads,
    max_usable_threads,
)
from fastml.utils.validation import (
    check_kernel_input,
    check_non_negative,
    check_out,
    check_positive_int,
    check_scalar_range,
    result_dtype,
)

__all__ = [
    "blas_threads",
    "check_kernel_input",
    "check_n_jobs",
    "check_non_negative",
    "check_out",
    "check_positive_int",
    "check_scalar_range",
    "effective_n_threads",
    "max_usable_threads",
    "result_dtype",
]
