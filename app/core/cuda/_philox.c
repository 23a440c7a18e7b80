/*
 * torch's CUDA uniform_ and random_(from, to) kernels, emulated on the CPU.
 *
 * torch launches distribution kernels with 256-thread blocks on
 * min(ceil(n / 256), SMs * maxThreadsPerSM / 256) blocks; thread tid runs
 * curand_init(seed, tid, offset) (Philox4x32-10: key = seed, counter = (offset / 4, tid))
 * and each call of curand4 gives the next counter's four words. Element li of a call
 * (T threads, `unroll` values per curand4) comes from call k = li / (T * unroll), word
 * group ii = (li % (T * unroll)) / T of thread tid = li % T. (aten/src/ATen/native/cuda/
 * DistributionTemplates.h; curand_philox4x32_x.h; Random123's Philox4x32-10.)
 *
 * Functions (elements [start, start + count) of a call from a fresh generator, T threads):
 *   raw32(seed, start, count, T)  -> uint32 words, unroll 4 (curand4's x, y, z, w)
 *   raw64(seed, start, count, T)  -> uint64 (x << 32 | y, z << 32 | w), unroll 2
 *   uniform32(seed, start, count, T, range, from) -> float32: fmaf(curand_uniform, range, from)
 *   uniform64(seed, start, count, T, range, from) -> float64: fma(curand_uniform2_double, ...)
 * Device code is compiled with nvcc's default --fmad=true, so `rand * range + from` is one
 * fused multiply-add: fmaf/fma reproduce it exactly.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define M0 0xD2511F53u
#define M1 0xCD9E8D57u
#define W0 0x9E3779B9u
#define W1 0xBB67AE85u

static void philox(uint32_t ctr[4], uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; ++r) {
        uint64_t p0 = (uint64_t)M0 * ctr[0], p1 = (uint64_t)M1 * ctr[2];
        uint32_t c0 = (uint32_t)(p1 >> 32) ^ ctr[1] ^ k0, c1 = (uint32_t)p1;
        uint32_t c2 = (uint32_t)(p0 >> 32) ^ ctr[3] ^ k1, c3 = (uint32_t)p0;
        ctr[0] = c0; ctr[1] = c1; ctr[2] = c2; ctr[3] = c3;
        k0 += W0;
        k1 += W1;
    }
}

/* The four words of call k of thread tid. */
static void words(uint64_t seed, uint64_t k, uint64_t tid, uint32_t out[4]) {
    out[0] = (uint32_t)k; out[1] = (uint32_t)(k >> 32);
    out[2] = (uint32_t)tid; out[3] = (uint32_t)(tid >> 32);
    philox(out, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* The curand4 words that make element li of a call with T threads and `unroll` values per
 * curand4, and which group of them it takes: call k = li / (T * unroll) of thread
 * li % T, group (li % (T * unroll)) / T. */
static uint64_t element(uint64_t seed, uint64_t li, uint64_t T, uint64_t unroll,
                        uint32_t w[4]) {
    uint64_t wave = T * unroll, r = li % wave;
    words(seed, li / wave, r % T, w);
    return r / T;
}

static int parse(PyObject *args, uint64_t *seed, uint64_t *start, Py_ssize_t *count,
                 uint64_t *T, double *range, double *from, int with_affine) {
    unsigned long long s, st, t;
    if (with_affine) {
        if (!PyArg_ParseTuple(args, "KKnKdd", &s, &st, count, &t, range, from)) return 0;
    } else {
        if (!PyArg_ParseTuple(args, "KKnK", &s, &st, count, &t)) return 0;
    }
    if (*count < 0 || t == 0) {
        PyErr_SetString(PyExc_ValueError, "count must be >= 0 and threads > 0");
        return 0;
    }
    *seed = s; *start = st; *T = t;
    return 1;
}

static PyObject *raw32(PyObject *self, PyObject *args) {
    uint64_t seed, start, T; Py_ssize_t n;
    if (!parse(args, &seed, &start, &n, &T, NULL, NULL, 0)) return NULL;
    PyObject *res = PyBytes_FromStringAndSize(NULL, n * 4);
    if (!res) return NULL;
    uint32_t *out = (uint32_t *)PyBytes_AS_STRING(res);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; ++i) {
        uint32_t w[4];
        out[i] = w[element(seed, start + i, T, 4, w)];
    }
    Py_END_ALLOW_THREADS
    return res;
}

static PyObject *raw64(PyObject *self, PyObject *args) {
    uint64_t seed, start, T; Py_ssize_t n;
    if (!parse(args, &seed, &start, &n, &T, NULL, NULL, 0)) return NULL;
    PyObject *res = PyBytes_FromStringAndSize(NULL, n * 8);
    if (!res) return NULL;
    uint64_t *out = (uint64_t *)PyBytes_AS_STRING(res);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; ++i) {
        uint32_t w[4];
        uint64_t ii = element(seed, start + i, T, 2, w);
        out[i] = (uint64_t)w[2 * ii] << 32 | w[2 * ii + 1];
    }
    Py_END_ALLOW_THREADS
    return res;
}

static PyObject *uniform32(PyObject *self, PyObject *args) {
    uint64_t seed, start, T; Py_ssize_t n; double range, from;
    if (!parse(args, &seed, &start, &n, &T, &range, &from, 1)) return NULL;
    float r = (float)range, f = (float)from;
    PyObject *res = PyBytes_FromStringAndSize(NULL, n * 4);
    if (!res) return NULL;
    float *out = (float *)PyBytes_AS_STRING(res);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; ++i) {
        uint32_t w[4];
        uint64_t ii = element(seed, start + i, T, 4, w);
        /* curand_uniform: x * 2^-32 + 2^-33, in (0, 1] */
        float u = fmaf((float)w[ii], 2.3283064365386963e-10f, 1.1641532182693481e-10f);
        out[i] = fmaf(u, r, f);
    }
    Py_END_ALLOW_THREADS
    return res;
}

static PyObject *uniform64(PyObject *self, PyObject *args) {
    uint64_t seed, start, T; Py_ssize_t n; double range, from;
    if (!parse(args, &seed, &start, &n, &T, &range, &from, 1)) return NULL;
    PyObject *res = PyBytes_FromStringAndSize(NULL, n * 8);
    if (!res) return NULL;
    double *out = (double *)PyBytes_AS_STRING(res);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; ++i) {
        uint32_t w[4];
        uint64_t ii = element(seed, start + i, T, 2, w);
        /* curand_uniform2_double: (x ^ (y << 21)) * 2^-53 + 2^-54 */
        uint64_t z = (uint64_t)w[2 * ii] ^ ((uint64_t)w[2 * ii + 1] << 21);
        double u = fma((double)z, 1.1102230246251565e-16, 5.551115123125783e-17);
        out[i] = fma(u, range, from);
    }
    Py_END_ALLOW_THREADS
    return res;
}

static PyMethodDef methods[] = {
    {"raw32", raw32, METH_VARARGS, "raw32(seed, start, count, threads) -> uint32 bytes"},
    {"raw64", raw64, METH_VARARGS, "raw64(seed, start, count, threads) -> uint64 bytes"},
    {"uniform32", uniform32, METH_VARARGS,
     "uniform32(seed, start, count, threads, range, from) -> float32 bytes"},
    {"uniform64", uniform64, METH_VARARGS,
     "uniform64(seed, start, count, threads, range, from) -> float64 bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_philox", NULL, -1, methods};

PyMODINIT_FUNC PyInit__philox(void) { return PyModule_Create(&module); }
