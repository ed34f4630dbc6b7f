"""k nearest neighbours and distance matrices vs scikit-learn, faiss and rapidfuzz (cases:
fastml.benchmarks.neighbors).

    pytest bench/test_neighbors.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name [--fastml-quick]

fastml and every available peer run in the same pytest run, grouped by case, all with
the same thread count. Peers marked ``own_process`` (faiss: importing it makes
scikit-learn's kNN single-threaded) run in a spawned process (see bench/conftest.py);
the time measured inside that process is in extra_info["inner_seconds"].
"""
AREA = "neighbors"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
