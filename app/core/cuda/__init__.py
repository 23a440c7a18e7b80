"""torch's CUDA random kernels (Philox4x32-10), emulated bit-exactly on the CPU."""
