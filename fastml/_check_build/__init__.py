"""A readable ImportError when fastml is imported from a source tree that was not built."""
import os

INSTRUCTIONS = """
fastml's compiled extensions are missing: {error}

You are probably importing fastml from a source checkout that was not built
(fastml imported from: {where}). Build it in place with one of

    pip install -e ".[test]"            # editable install, builds the extensions
    python setup.py build_ext --inplace # build only

and import again. The build needs a C compiler, Cython >= 3 and numpy >= 2 (pip
installs the last two by itself). If you installed fastml with pip and still see this,
run `pip install --force-reinstall --no-cache-dir fastml` and read the build log.
"""


def raise_build_error(error):
    where = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    raise ImportError(INSTRUCTIONS.format(error=error, where=where)) from error
