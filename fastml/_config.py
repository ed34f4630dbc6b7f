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
    from fastml.utils._parallel import _cpu_count, _omp_num_threads_env, max_usable_threads

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
        "usable cores": _cpu_count(only_physical_cores=True),
        "usable cpus": _cpu_count(),
        "OMP_NUM_THREADS": _omp_num_threads_env(),
        "default threads": max_usable_threads(),
        "simd path": simd_info()["used"],
        "simd": describe_simd(),
        "blas": blas or ["none detected"],
    }


def show_config(file=None):
    """Print the version, OpenMP status, the threads ``n_jobs=None`` (the default) and
    ``n_jobs=-1`` give, the SIMD path and BLAS."""
    import scipy.linalg  # noqa: F401  (so that scipy's BLAS is listed too)

    info = config_info()
    out = file or sys.stdout
    print(f"fastml {info['fastml']}", file=out)
    print(f"  python:             {info['python']} ({info['platform']})", file=out)
    print(f"  numpy:              {info['numpy']}", file=out)
    omp = "yes" if info["openmp"] else "NO (serial build: every loop uses one core)"
    print(f"  OpenMP compiled in: {omp}", file=out)
    why = (f"OMP_NUM_THREADS={info['OMP_NUM_THREADS']}" if info["OMP_NUM_THREADS"]
           else f"{info['usable cores']} usable cores of {info['usable cpus']} CPUs")
    if info["default threads"] < min(info["usable cores"], info["OMP_NUM_THREADS"] or 10**9):
        why += ", lowered by a threadpoolctl limit"
    print(f"  threads:            {info['default threads']} for n_jobs=None (the default) "
          f"and -1 ({why})", file=out)
    print(f"  SIMD path:          {info['simd']}", file=out)
    for i, b in enumerate(info["blas"]):
        print(f"  {'BLAS:' if i == 0 else '':20s}{b}", file=out)
