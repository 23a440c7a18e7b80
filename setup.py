"""Only the C extension lives here; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # The MT19937 jump-ahead kernel: `pip install .` compiles it (a C compiler and the
        # Python headers are needed; the Dockerfile builds it in a build stage).
        Extension("app.core.jump._mt19937", ["app/core/jump/_mt19937.c"],
                  extra_compile_args=["-O3"]),
        # torch's CUDA Philox kernels emulated on the CPU. No -ffast-math: fmaf/fma must be
        # the correctly rounded fused multiply-adds.
        Extension("app.core.cuda._philox", ["app/core/cuda/_philox.c"],
                  extra_compile_args=["-O3", "-ffp-contract=off"], libraries=["m"]),
        # JAX's threefry2x32 streams and its uniform transform (fmaf/fma, no contraction).
        Extension("app.core.jax._threefry", ["app/core/jax/_threefry.c"],
                  extra_compile_args=["-O3", "-ffp-contract=off"], libraries=["m"]),
    ],
)
