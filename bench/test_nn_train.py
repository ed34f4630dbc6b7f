"""Training LeNet-5 and an MLP on MNIST vs torch and scikit-learn
(cases: fastml.benchmarks.nn_train)."""
AREA = "nn_train"


def test_bench(case_impl, run_case):
    run_case(*case_impl)
