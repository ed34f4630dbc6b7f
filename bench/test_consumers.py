"""scikit-learn's models on fastml (DBSCAN, LocalOutlierFactor, TSNE's neighbour graph,
KernelPCA) vs stock scikit-learn and scikit-learn-intelex (cases:
fastml.benchmarks.consumers).

    pytest bench/test_consumers.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name [--fastml-quick]

scikit-learn-intelex runs in a spawned process (see bench/conftest.py); the time measured
inside that process is in extra_info["inner_seconds"].
"""
AREA = "consumers"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
