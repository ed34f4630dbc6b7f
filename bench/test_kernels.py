"""Kernel matrices and Kernel Ridge vs scikit-learn / numpy (cases: fastml.benchmarks.kernels)."""
AREA = "kernels"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
