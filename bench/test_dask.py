"""fastml.dask on local Dask clusters (1 worker x 2 threads, 2 workers x 1 thread) vs
single-machine fastml with 2 threads (cases: fastml.benchmarks.dask).

    pytest bench/test_dask.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name [--fastml-quick]
"""
AREA = "dask"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
