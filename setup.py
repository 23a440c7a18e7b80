"""Only the C extension lives here; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # The MT19937 jump-ahead kernel: `pip install .` compiles it (a C compiler and the
        # Python headers are needed; the Dockerfile builds it in a build stage).
        Extension("app.core.jump._mt19937", ["app/core/jump/_mt19937.c"],
                  extra_compile_args=["-O3"]),
    ],
)
