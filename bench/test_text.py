"""String kernels and p-gram counts vs CountVectorizer + sparse product and strkernels
(cases: fastml.benchmarks.text).

    pytest bench/test_text.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name [--fastml-quick]
"""
AREA = "text"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
