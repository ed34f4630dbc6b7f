"""CNN primitives (fastml.nn.functional) vs torch.nn.functional, forward + backward,
float32 (cases: fastml.benchmarks.nn). torch is optional: without it only fastml runs.

    pytest bench/test_nn_functional.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name \
        --benchmark-json=bench_out/nn.json
    python bench/report.py bench_out/nn.json
"""
AREA = "nn"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
