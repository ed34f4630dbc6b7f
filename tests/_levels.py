"""Running a script once per instruction-set level (the level is fixed per process)."""
import os
import subprocess
import sys

import numpy as np


def outputs_per_level(script, inp, tmp, levels):
    """{level: {name: array}}: ``script`` run as ``python -c script inp out.npz`` under
    FASTML_CPU=level for each level, with the arrays it saved in out.npz."""
    res = {}
    for level in levels:
        env = dict(os.environ)
        env["FASTML_CPU"] = level
        path = tmp / f"out_{level}.npz"
        subprocess.run([sys.executable, "-c", script, str(inp), str(path)], env=env,
                       check=True, timeout=300)
        with np.load(path) as f:
            res[level] = {k: f[k] for k in f.files}
    return res
