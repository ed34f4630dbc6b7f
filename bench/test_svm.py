"""Kernel SVMs vs scikit-learn and scikit-learn-intelex (cases: fastml.benchmarks.svm).

    pytest bench/test_svm.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name [--fastml-quick]

Peak memory of a fit (the README's table) is the maximum resident set size of a process
that does only that fit, e.g.

    /usr/bin/time -v python -c "from fastml.benchmarks import svm; ..."

(``Maximum resident set size``); the same for the peers in their own processes.
"""
AREA = "svm"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
