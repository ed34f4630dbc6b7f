"""fastml.show_config(): how this installation was built and what it will use."""
import platform
import sys


def config_info():
    """The facts show_config() prints, as a dict (also used by `fastml info` and reports)."""
    import numpy as np
    from threadpoolctl import threadpool_info

    import fastml
    from fastml._cpu import describe_simd, simd_info
    from fastml.utils._openmp import omp_max_threads, openmp_enabled
    from fastml.utils._parallel import max_usable_threads

    blas = []
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            blas.append(
                f"{lib.get('internal_api')} {lib.get('version')} "
                f"({lib.get('num_threads')} threads, {lib.get('prefix')})"
            )
    return {
        "fastml": fastml.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "openmp": openmp_enabled(),
        "omp_max_threads": omp_max_threads(),
        "n_jobs=-1 threads": max_usable_threads(),
        "simd path": simd_info()["used"],
        "simd": describe_simd(),
        "blas": blas or ["none detected"],
    }


def show_config(file=None):
    """Print the version, OpenMP status, thread count for n_jobs=-1, SIMD path and BLAS."""
    import scipy.linalg  # noqa: F401  (so that scipy's BLAS is listed too)

    info = config_info()
    out = file or sys.stdout
    print(f"fastml {info['fastml']}", file=out)
    print(f"  python:             {info['python']} ({info['platform']})", file=out)
    print(f"  numpy:              {info['numpy']}", file=out)
    omp = "yes" if info["openmp"] else "NO (serial build: every loop uses one core)"
    print(f"  OpenMP compiled in: {omp}", file=out)
    print(f"  n_jobs=-1 threads:  {info['n_jobs=-1 threads']}", file=out)
    print(f"  SIMD path:          {info['simd']}", file=out)
    for i, b in enumerate(info["blas"]):
        print(f"  {'BLAS:' if i == 0 else '':20s}{b}", file=out)
