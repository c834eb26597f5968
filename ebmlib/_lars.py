r"""The homotopy (LARS-lasso) sparse coder, compiled on the CPU with numba; private.

:func:`ebmlib.solvers.lasso` calls :func:`lars` on the CPU. Each sample is solved alone
(the samples are spread over the threads), in float64, from the Gram matrix G = W_dᵀ W_d
and the correlations b = W_dᵀ y, on the lasso in the convention with ½,

.. math::  \min_z \tfrac12 \lVert y - W_d z \rVert^2 + \mu \lVert z \rVert_1, \qquad
           \mu = \lambda / 2,

which has the minimiser of the lecture's E(z, y) = ‖y − W_d z‖² + λ‖z‖₁.

The homotopy (Osborne, Presnell & Turlach 2000; Efron et al. 2004) follows the minimiser
as the level C of the correlations c = W_dᵀ(y − W_d z) comes down from ‖b‖_∞ (where the
code is 0) to μ. On the path the active atoms A have c_A = C s_A (s their signs) and the
others |c_j| <= C; as C goes down by γ, z_A moves by γ d with G_AA d = s_A, linearly,
until an inactive atom reaches the level (it joins A) or an active code crosses 0 (it
leaves). The Cholesky factor of G_AA is updated for each join (one triangular solve) and
each departure (a rank-one update), never recomputed.

At the end the code is solved again on its support from the factor, the correlations
are recomputed from scratch, and the code is accepted only when it satisfies the
optimality conditions to ``slack`` (in the ½ convention): |c_j − μ s_j| <= slack and
z_j s_j > 0 on A, |c_j| <= μ + slack off A. A rejected sample (a numerically singular
G_AA, a support that would outgrow ``kcap``, more than ``max_steps`` events, or a failed
check) is returned as it stands, with ``ok`` False.
"""

from __future__ import annotations

import importlib.util

import numpy as np

# numba is a dependency; without it, ebmlib.solvers.lasso uses its batched active set.
# It is imported, and the kernels compiled, on the first call only.
AVAILABLE = importlib.util.find_spec("numba") is not None
prange = range  # numba.prange once compiled
_compiled = None


def _forward(L, x, k):
    """Solve L x' = x in place (L lower triangular, its first k rows)."""
    for r in range(k):
        v = x[r]
        for q in range(r):
            v -= L[r, q] * x[q]
        x[r] = v / L[r, r]


def _backward(L, x, k):
    """Solve Lᵀ x' = x in place, along the rows of L."""
    for r in range(k - 1, -1, -1):
        x[r] /= L[r, r]
        xr = x[r]
        for q in range(r):
            x[q] -= L[r, q] * xr


def _solve_one(G, b, mu, slack, max_steps, kcap, z, L, act, sgn, c, a, d, u, tmp, tmp_m):
    """One sample: fills z (m,), returns (accepted, events). u holds L⁻¹ s_A (forward solve)."""
    m = b.shape[0]
    for j in range(m):
        c[j] = b[j]
        z[j] = 0.0
        sgn[j] = 0.0
    top = 0
    C = 0.0
    for j in range(m):
        if abs(c[j]) > C:
            C = abs(c[j])
            top = j
    if C <= mu:
        return True, 0
    k = 0
    join = top
    leave = -1
    steps = 0
    while True:
        if join >= 0:  # atom `join` enters: a new row w of the factor, L w = G_A,join
            if k == kcap:
                return False, steps  # more atoms than rows: G_AA singular
            s2 = G[join, join]
            for r in range(k):
                v = G[act[r], join]
                for q in range(r):
                    v -= L[r, q] * L[k, q]
                v /= L[r, r]
                L[k, r] = v
                s2 -= v * v
            if s2 <= 1e-12 * G[join, join]:
                return False, steps  # G_AA (numerically) singular
            L[k, k] = np.sqrt(s2)
            act[k] = join
            sgn[join] = 1.0 if c[join] > 0 else -1.0
            v = sgn[join]  # the forward solve L u = s_A gains one entry
            for q in range(k):
                v -= L[k, q] * u[q]
            u[k] = v / L[k, k]
            k += 1
        steps += 1
        if steps > max_steps:
            return False, steps
        # direction: G_AA d = s_A, i.e. Lᵀ d = u (backward, along the rows of L)
        for r in range(k):
            d[r] = u[r]
        _backward(L, d, k)
        # a = G_{:,A} d: how fast each correlation changes
        for j in range(m):
            a[j] = 0.0
        for r in range(k):
            dr = d[r]
            row = act[r]
            for j in range(m):
                a[j] += dr * G[row, j]
        gamma = C - mu  # the end of the path
        join = -1
        for j in range(m):  # when each inactive atom reaches the level: no branch, so vectorised
            aj = a[j]
            cj = c[j]
            den = 1.0 - aj
            t = (C - cj) / den if den > 1e-12 else np.inf
            den = 1.0 + aj
            t2 = (C + cj) / den if den > 1e-12 else np.inf
            t = t2 if t2 < t else t
            tmp_m[j] = t if sgn[j] == 0.0 and t >= 0.0 else np.inf
        if leave >= 0:
            tmp_m[leave] = np.inf
        for j in range(m):
            if tmp_m[j] < gamma:
                gamma = tmp_m[j]
                join = j
        out = -1
        for r in range(k):
            zr = z[act[r]]
            if zr * d[r] < 0.0:
                t = -zr / d[r]
                if t < gamma:
                    gamma = t
                    out = r
                    join = -1
        if gamma < 0.0:
            gamma = 0.0
        for r in range(k):
            z[act[r]] += gamma * d[r]
        for j in range(m):
            c[j] -= gamma * a[j]
        C -= gamma
        leave = -1
        if out >= 0:  # act[out] leaves: delete its row and column, rank-one update of the rest
            leave = act[out]
            z[leave] = 0.0
            sgn[leave] = 0.0
            n3 = k - out - 1
            for i in range(n3):
                tmp[i] = L[out + 1 + i, out]
            for i in range(n3):
                ii = out + 1 + i
                lii = L[ii, ii]
                r = np.sqrt(lii * lii + tmp[i] * tmp[i])
                cs = r / lii
                sn = tmp[i] / lii
                L[ii, ii] = r
                for q in range(i + 1, n3):
                    qq = out + 1 + q
                    L[qq, ii] = (L[qq, ii] + sn * tmp[q]) / cs
                    tmp[q] = cs * tmp[q] - sn * L[qq, ii]
            for r in range(out, k - 1):  # shift rows and columns after `out` up and left
                act[r] = act[r + 1]
                for q in range(r + 1):
                    L[r, q] = L[r + 1, q + 1] if q >= out else L[r + 1, q]
            k -= 1
            for r in range(k):  # the forward solve again, on the new factor
                u[r] = sgn[act[r]]
            _forward(L, u, k)
        elif join < 0:
            break
    # polish: z_A = G_AA⁻¹ (b_A − μ s_A) from the factor, then the exact correlations
    for r in range(k):
        tmp[r] = b[act[r]] - mu * sgn[act[r]]
    _forward(L, tmp, k)
    _backward(L, tmp, k)
    for j in range(m):
        z[j] = 0.0
        c[j] = b[j]
    for r in range(k):
        dr = tmp[r]
        z[act[r]] = dr
        row = act[r]
        for j in range(m):
            c[j] -= dr * G[row, j]
    for j in range(m):
        if sgn[j] != 0.0:
            if z[j] * sgn[j] <= 0.0 or abs(c[j] - mu * sgn[j]) > slack:
                return False, steps
        elif abs(c[j]) > mu + slack:
            return False, steps
    return True, steps


def _solve_batch(G, b, mu, slack, max_steps, kcap, chunks, z, ok, steps):
    B, m = b.shape
    for part in prange(chunks):  # each chunk of samples allocates its work arrays once
        L = np.empty((kcap, kcap))
        act = np.empty(kcap, dtype=np.int64)
        sgn = np.empty(m)
        c = np.empty(m)
        a = np.empty(m)
        d = np.empty(kcap)
        u = np.empty(kcap)
        tmp = np.empty(kcap)
        tmp_m = np.empty(m)
        for s in range(part * B // chunks, (part + 1) * B // chunks):
            good, n = _solve_one(G, b[s], mu, slack[s], max_steps, kcap, z[s], L, act, sgn, c, a, d, u,
                                 tmp, tmp_m)
            ok[s] = good
            steps[s] = n


def _compile():
    """Compile the kernels (numba caches the machine code on disk, beside this file)."""
    global _compiled, _forward, _backward, _solve_one, prange
    if _compiled is None:
        import numba

        prange = numba.prange
        # reassociation lets the compiler vectorise the dot products of the triangular solves
        fast = {"reassoc", "contract"}
        _forward = numba.njit(cache=True, nogil=True, fastmath=fast, inline="always")(_forward)
        _backward = numba.njit(cache=True, nogil=True, fastmath=fast, inline="always")(_backward)
        _solve_one = numba.njit(cache=True, nogil=True, fastmath=fast)(_solve_one)
        _compiled = numba.njit(cache=True, parallel=True, nogil=True, fastmath=fast)(_solve_batch)
    return _compiled


def lars(G: np.ndarray, b: np.ndarray, mu: float, slack: np.ndarray, max_steps: int, kcap: int,
         threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact codes of every sample: ``(z (B, m), accepted (B,), events (B,))``.

    G (m, m) and b (B, m) are float64 and C-contiguous; μ = λ/2; ``slack`` (B,) is the
    tolerance of the optimality conditions in the ½ convention; ``max_steps`` bounds the
    joins and departures of a sample, ``kcap`` the size of its support (the rank of W_d:
    min(n, m)); ``threads`` numba threads.
    """
    B, m = b.shape
    z = np.zeros((B, m))
    ok = np.zeros(B, dtype=np.bool_)
    steps = np.zeros(B, dtype=np.int64)
    solve = _compile()
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    chunks = min(B, 8 * threads)
    solve(G, b, mu, slack, max_steps, kcap, chunks, z, ok, steps)
    return z, ok, steps
