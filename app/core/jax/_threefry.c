/*
 * JAX's threefry2x32 streams (partitionable mode), computed on the CPU without JAX.
 *
 * jax.random.bits(key, (N,)) with jax_threefry_partitionable=True hashes, for element i,
 * the counter pair (i >> 32, i & 0xffffffff) with the key words (k0, k1) through
 * Threefry-2x32 with 20 rounds (jax/_src/random/threefry2x32.py: _threefry2x32_lowering,
 * _threefry_random_bits_partitionable, prng.iota_2x32_shape) into (y0, y1):
 *   uint32 = y0 ^ y1 (uint8/uint16: that, truncated), uint64 = y0 << 32 | y1.
 * Element i depends only on the key and i, so any slice is computed directly.
 *
 * uniform (jax.random._uniform): f = bitcast(bits >> (nbits - nmant) | bits(1.0)) - 1,
 * then max(minval, f * (maxval - minval) + minval), where XLA:CPU fuses the multiply and
 * the add into one fused multiply-add: fmaf/fma here (compiled without -ffast-math and
 * with -ffp-contract=off, so every other operation rounds as written). XLA:CPU runs with
 * flush-to-zero and denormals-are-zero: a subnormal result becomes a zero of its sign
 * (bounds that are subnormal, or whose difference is, are refused by the caller).
 *
 * Functions (each fills a writable buffer `out` with elements [start, start + len)):
 *   hash(k0, k1, x0, x1)               -> (y0, y1): one block, for known-answer tests
 *   bits32(out, k0, k1, start)         -> uint32 y0 ^ y1
 *   bits64(out, k0, k1, start)         -> uint64 y0 << 32 | y1
 *   uniform32(out, k0, k1, start, minval, maxval) -> float32
 *   uniform64(out, k0, k1, start, minval, maxval) -> float64
 * The caller keeps start + len <= 2**64 (the counter space).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PARITY 0x1BD11BDAu

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

static inline uint32_t rotl(uint32_t x, int d) { return (x << d) | (x >> (32 - d)); }

#define ROUND(r) do { x0 += x1; x1 = rotl(x1, r); x1 ^= x0; } while (0)
#define ROT0 ROUND(13); ROUND(15); ROUND(26); ROUND(6)
#define ROT1 ROUND(17); ROUND(29); ROUND(16); ROUND(24)

/* Threefry-2x32, 20 rounds, exactly as JAX lowers it. */
static inline void threefry(uint32_t k0, uint32_t k1, uint32_t *p0, uint32_t *p1) {
    uint32_t k2 = k0 ^ k1 ^ PARITY;
    uint32_t x0 = *p0 + k0, x1 = *p1 + k1;
    ROT0; x0 += k1; x1 += k2 + 1u;
    ROT1; x0 += k2; x1 += k0 + 2u;
    ROT0; x0 += k0; x1 += k1 + 3u;
    ROT1; x0 += k1; x1 += k2 + 4u;
    ROT0; x0 += k2; x1 += k0 + 5u;
    *p0 = x0; *p1 = x1;
}

CLONES static void fill_bits32(uint32_t *out, Py_ssize_t n, uint32_t k0, uint32_t k1,
                               uint64_t start) {
    for (Py_ssize_t j = 0; j < n; ++j) {
        uint64_t i = start + (uint64_t)j;
        uint32_t y0 = (uint32_t)(i >> 32), y1 = (uint32_t)i;
        threefry(k0, k1, &y0, &y1);
        out[j] = y0 ^ y1;
    }
}

CLONES static void fill_bits64(uint64_t *out, Py_ssize_t n, uint32_t k0, uint32_t k1,
                               uint64_t start) {
    for (Py_ssize_t j = 0; j < n; ++j) {
        uint64_t i = start + (uint64_t)j;
        uint32_t y0 = (uint32_t)(i >> 32), y1 = (uint32_t)i;
        threefry(k0, k1, &y0, &y1);
        out[j] = ((uint64_t)y0 << 32) | y1;
    }
}

/* Bits first (vectorised), then the float transform in place: the FMA stays scalar-exact. */
static void fill_uniform32(float *out, Py_ssize_t n, uint32_t k0, uint32_t k1, uint64_t start,
                           float lo, float hi) {
    uint32_t *bits = (uint32_t *)out;
    fill_bits32(bits, n, k0, k1, start);
    float span = hi - lo;
    for (Py_ssize_t j = 0; j < n; ++j) {
        uint32_t b = (bits[j] >> 9) | 0x3F800000u;
        float f;
        memcpy(&f, &b, sizeof f);
        f = f - 1.0f;
        float v = fmaf(f, span, lo);
        if (fabsf(v) < FLT_MIN) v = copysignf(0.0f, v);  /* XLA:CPU flushes subnormals */
        out[j] = lo > v ? lo : v;  /* lax.max(minval, v): v when equal (max(-0.0, +0.0) = +0.0) */
    }
}

static void fill_uniform64(double *out, Py_ssize_t n, uint32_t k0, uint32_t k1, uint64_t start,
                           double lo, double hi) {
    uint64_t *bits = (uint64_t *)out;
    fill_bits64(bits, n, k0, k1, start);
    double span = hi - lo;
    for (Py_ssize_t j = 0; j < n; ++j) {
        uint64_t b = (bits[j] >> 12) | 0x3FF0000000000000ull;
        double f;
        memcpy(&f, &b, sizeof f);
        f = f - 1.0;
        double v = fma(f, span, lo);
        if (fabs(v) < DBL_MIN) v = copysign(0.0, v);
        out[j] = lo > v ? lo : v;
    }
}

/* Parse (out, k0, k1, start[, minval, maxval]); out must hold whole items of `size` bytes. */
static int parse(PyObject *args, Py_buffer *buf, uint32_t *k0, uint32_t *k1, uint64_t *start,
                 Py_ssize_t size, double *lo, double *hi) {
    unsigned long a, b;
    unsigned long long s;
    int ok = lo ? PyArg_ParseTuple(args, "w*kkKdd", buf, &a, &b, &s, lo, hi)
                : PyArg_ParseTuple(args, "w*kkK", buf, &a, &b, &s);
    if (!ok) return 0;
    if (a > 0xFFFFFFFFul || b > 0xFFFFFFFFul || buf->len % size) {
        PyBuffer_Release(buf);
        PyErr_SetString(PyExc_ValueError, "key words must be uint32 and the buffer whole items");
        return 0;
    }
    *k0 = (uint32_t)a; *k1 = (uint32_t)b; *start = (uint64_t)s;
    return 1;
}

static PyObject *py_hash(PyObject *self, PyObject *args) {
    unsigned long k0, k1, x0, x1;
    if (!PyArg_ParseTuple(args, "kkkk", &k0, &k1, &x0, &x1)) return NULL;
    uint32_t y0 = (uint32_t)x0, y1 = (uint32_t)x1;
    threefry((uint32_t)k0, (uint32_t)k1, &y0, &y1);
    return Py_BuildValue("kk", (unsigned long)y0, (unsigned long)y1);
}

#define WRAP(name, type, fill, ...)                                             \
    static PyObject *name(PyObject *self, PyObject *args) {                     \
        Py_buffer buf; uint32_t k0, k1; uint64_t start; double lo = 0, hi = 0;  \
        (void)lo; (void)hi;                                                     \
        if (!parse(args, &buf, &k0, &k1, &start, sizeof(type), __VA_ARGS__))    \
            return NULL;                                                        \
        Py_ssize_t n = buf.len / (Py_ssize_t)sizeof(type);                      \
        Py_BEGIN_ALLOW_THREADS                                                  \
        fill;                                                                   \
        Py_END_ALLOW_THREADS                                                    \
        PyBuffer_Release(&buf);                                                 \
        Py_RETURN_NONE;                                                         \
    }

WRAP(bits32, uint32_t, fill_bits32((uint32_t *)buf.buf, n, k0, k1, start), NULL, NULL)
WRAP(bits64, uint64_t, fill_bits64((uint64_t *)buf.buf, n, k0, k1, start), NULL, NULL)
WRAP(uniform32, float,
     fill_uniform32((float *)buf.buf, n, k0, k1, start, (float)lo, (float)hi), &lo, &hi)
WRAP(uniform64, double,
     fill_uniform64((double *)buf.buf, n, k0, k1, start, lo, hi), &lo, &hi)

static PyMethodDef methods[] = {
    {"hash", py_hash, METH_VARARGS, "hash(k0, k1, x0, x1) -> (y0, y1): Threefry-2x32-20"},
    {"bits32", bits32, METH_VARARGS, "bits32(out, k0, k1, start): uint32 y0 ^ y1"},
    {"bits64", bits64, METH_VARARGS, "bits64(out, k0, k1, start): uint64 y0 << 32 | y1"},
    {"uniform32", uniform32, METH_VARARGS,
     "uniform32(out, k0, k1, start, minval, maxval): jax.random.uniform float32"},
    {"uniform64", uniform64, METH_VARARGS,
     "uniform64(out, k0, k1, start, minval, maxval): jax.random.uniform float64"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_threefry", NULL, -1, methods};

PyMODINIT_FUNC PyInit__threefry(void) { return PyModule_Create(&module); }
