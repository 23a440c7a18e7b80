/*
 * Exact jump-ahead for MT19937 by any number of 32-bit outputs.
 *
 * The MT19937 state transition F is linear over GF(2) with characteristic polynomial
 * phi (degree 19937). Jumping k steps applies g(F) with g = x^k mod phi (Haramoto,
 * Matsumoto, Nishimura, Panneton, L'Ecuyer, "Efficient Jump Ahead for F2-Linear Random
 * Number Generators", INFORMS Journal on Computing 20(3), 2008). Since F^j s is the
 * window of the word sequence starting j words later, g(F) s is the XOR of the windows
 * at the exponents of g's set bits.
 *
 * jump(key, pos, k, terms) -> bytes
 *   key:   624 uint32 words (the state array of numpy / CPython / torch),
 *   pos:   index of the next output in key, 1..624,
 *   k:     number of outputs to skip, as little-endian bytes,
 *   terms: int32 exponents of phi below 19937 (its other 135 - 1 terms).
 * Returns the 624-word state array whose next output (at index 1) is the one k outputs
 * after key[pos]. Its word 0 holds only a valid top bit, the only bit of it the
 * recurrence reads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NN 624
#define DEG 19937
#define PW ((DEG + 63) / 64) /* words of a reduced polynomial: 312 */
#define UPPER 0x80000000u
#define LOWER 0x7fffffffu
#define MATRIX_A 0x9908b0dfu
/* Below this many words, running the recurrence forward (~1 ns a word) beats the
 * polynomial jump (~0.5 ms and up). */
#define SMALL_K (1u << 21)

static uint64_t SPREAD[256];

static void init_spread(void) {
    for (int b = 0; b < 256; ++b) {
        uint64_t s = 0;
        for (int i = 0; i < 8; ++i)
            if (b >> i & 1) s |= (uint64_t)1 << (2 * i);
        SPREAD[b] = s;
    }
}

static inline uint64_t spread32(uint32_t x) {
    return SPREAD[x & 255] | SPREAD[(x >> 8) & 255] << 16 | SPREAD[(x >> 16) & 255] << 32 |
           SPREAD[x >> 24] << 48;
}

/* p ^= word placed at bit position pos (pos may be negative when the word's low bits
 * are known to be zero). */
static inline void xor_at(uint64_t *p, uint64_t word, long pos) {
    if (pos < 0) {
        word >>= -pos;
        pos = 0;
    }
    long wi = pos >> 6;
    int sh = (int)(pos & 63);
    p[wi] ^= word << sh;
    if (sh) p[wi + 1] ^= word >> (64 - sh);
}

/* Reduce p (nwords words) modulo phi = x^DEG + sum x^terms[t], top word first. Every
 * term is at most DEG - 64, so a folded word lands strictly below the word it came from. */
static void reduce(uint64_t *p, int nwords, const int32_t *terms, Py_ssize_t nterms) {
    for (int w = nwords - 1; w >= DEG / 64; --w) {
        uint64_t word = p[w];
        if (w == DEG / 64) word &= ~(((uint64_t)1 << (DEG % 64)) - 1);
        if (!word) continue;
        p[w] ^= word;
        long base = (long)w * 64 - DEG;
        for (Py_ssize_t t = 0; t < nterms; ++t) xor_at(p, word, base + terms[t]);
    }
}

/* g = x^k mod phi, k given as little-endian bytes. */
static void power_of_x(uint64_t *g, const unsigned char *k, Py_ssize_t klen,
                       const int32_t *terms, Py_ssize_t nterms) {
    uint64_t sq[2 * PW];
    memset(g, 0, PW * sizeof(uint64_t));
    g[0] = 1;
    long top = klen * 8 - 1;
    while (top >= 0 && !(k[top >> 3] >> (top & 7) & 1)) --top;
    for (long bit = top; bit >= 0; --bit) {
        for (int i = 0; i < PW; ++i) {
            sq[2 * i] = spread32((uint32_t)g[i]);
            sq[2 * i + 1] = spread32((uint32_t)(g[i] >> 32));
        }
        reduce(sq, 2 * PW, terms, nterms);
        memcpy(g, sq, PW * sizeof(uint64_t));
        if (k[bit >> 3] >> (bit & 7) & 1) {
            uint64_t carry = 0;
            for (int i = 0; i < PW; ++i) {
                uint64_t next = g[i] >> 63;
                g[i] = g[i] << 1 | carry;
                carry = next;
            }
            if (g[DEG / 64] >> (DEG % 64) & 1) {
                g[DEG / 64] ^= (uint64_t)1 << (DEG % 64);
                for (Py_ssize_t t = 0; t < nterms; ++t) g[terms[t] >> 6] ^= (uint64_t)1 << (terms[t] & 63);
            }
        }
    }
}

static PyObject *jump(PyObject *self, PyObject *args) {
    Py_buffer key, k, terms;
    Py_ssize_t pos;
    if (!PyArg_ParseTuple(args, "y*ny*y*", &key, &pos, &k, &terms)) return NULL;
    PyObject *result = NULL;
    uint32_t *x = NULL;
    if (key.len != NN * 4 || pos < 1 || pos > NN || terms.len % 4) {
        PyErr_SetString(PyExc_ValueError, "key must be 624 uint32 words, pos in 1..624");
        goto done;
    }
    const int32_t *tm = (const int32_t *)terms.buf;
    Py_ssize_t nterms = terms.len / 4;
    for (Py_ssize_t t = 0; t < nterms; ++t) {
        if (tm[t] < 0 || tm[t] > DEG - 64) {
            PyErr_SetString(PyExc_ValueError, "terms must lie in 0..DEG-64");
            goto done;
        }
    }
    uint64_t small = 0;
    int is_small = k.len <= 8;
    for (Py_ssize_t i = 0; is_small && i < k.len; ++i)
        small |= (uint64_t)((const unsigned char *)k.buf)[i] << (8 * i);
    is_small = is_small && small < SMALL_K;
    size_t start = (size_t)pos - 1, len = start + (is_small ? (size_t)small : DEG) + NN;
    x = malloc(len * sizeof(uint32_t));
    if (!x) {
        PyErr_NoMemory();
        goto done;
    }
    uint64_t g[PW];
    uint32_t out[NN];
    Py_BEGIN_ALLOW_THREADS
    memcpy(x, key.buf, NN * 4);
    for (size_t i = NN; i < len; ++i) {
        uint32_t y = (x[i - NN] & UPPER) | (x[i - NN + 1] & LOWER);
        x[i] = x[i - 227] ^ (y >> 1) ^ ((y & 1) ? MATRIX_A : 0);
    }
    if (is_small) {
        memcpy(out, x + start + small, sizeof(out));
    } else {
        power_of_x(g, (const unsigned char *)k.buf, k.len, tm, nterms);
        memset(out, 0, sizeof(out));
        const uint32_t *w = x + start;
        for (int j = 0; j < DEG; ++j) {
            if (g[j >> 6] >> (j & 63) & 1) {
                const uint32_t *src = w + j;
                for (int i = 0; i < NN; ++i) out[i] ^= src[i];
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)out, sizeof(out));
done:
    free(x);
    PyBuffer_Release(&key);
    PyBuffer_Release(&k);
    PyBuffer_Release(&terms);
    return result;
}

static PyMethodDef methods[] = {
    {"jump", jump, METH_VARARGS,
     "jump(key, pos, k, terms) -> bytes: the MT19937 state array k outputs ahead (next "
     "output at index 1)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mt19937", NULL, -1, methods};

PyMODINIT_FUNC PyInit__mt19937(void) {
    init_spread();
    return PyModule_Create(&module);
}
