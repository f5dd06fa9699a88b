"""The batch cost kernel ``batch_kernel`` (a template module, see ``docs/kernel-contract.md``).

``batch_kernel`` scores many parameter rows against one data set: for each row it builds the
model inputs (defaults, with the fitted ones replaced), calls the solver entry point
``solve_kernel`` (dense output at the data times), and sums the cost terms from the residuals
``model - data`` without leaving numba. One ``prange`` runs over *chunks* of contiguous rows;
each chunk allocates its work arrays (inputs, output rows, counters) once and reuses them for
its rows, so there is no allocation per row beyond what ``solve_kernel`` itself does per solve.

Determinism: a row's cost and status depend only on that row (every buffer a row reads was
written by the same row first, and all sums run in a fixed order inside the row), so results
are bit-identical for any number of threads and any chunking.

Arguments come in three groups (tuples): ``fixed`` (defaults, fitted positions, t0, data
times, observations), ``solver`` (method, rtol, atol, max_steps) and ``cost``. The cost is
passed as small arrays, so one compiled kernel serves every cost (sum of terms):

* ``cost_kind`` (n_terms,) int64: ``COST_SSE``, ``COST_RMSE`` or ``COST_GAUSSIAN_NLL``;
* ``cost_weight`` (n_terms,) float64: the term's weight;
* ``out_weight`` (n_terms, N_OUTPUTS) float64: per-output weights;
* ``sigma`` (n_terms, N_OUTPUTS) float64: known noise levels (Gaussian terms);
* ``sigma_index`` (n_terms, N_OUTPUTS) int64: column of the parameter row that holds the noise
  level of that output (estimated sigma), or -1 to use ``sigma``.

With per-output sums of squares ``S_j = sum_i (y_ij - d_ij)^2`` over the ``n_t`` data times,
term values are ``SSE = w sum_j v_j S_j``, ``RMSE = w sqrt(sum_j v_j S_j / (n_t N_OUTPUTS))``
and ``NLL = w sum_j v_j (n_t/2 ln(2 pi sigma_j^2) + S_j / (2 sigma_j^2))`` (``w`` the term
weight, ``v_j`` the output weights); the row's cost is the sum of its terms.

``batch_outputs_kernel`` (appended at the end) is ``batch_kernel`` plus each row's cost
restricted to each output (``Problem.evaluate_batch_per_output``).

Row statuses: the solver's status (0 done, 1 ended by a terminal `stop` exactly covering the
data, negative: failure) or a problem-level failure code from ``_codes``; every failed row
costs ``inf``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from diffid_plugins.problem._codes import (
    COST_GAUSSIAN_NLL,
    COST_RMSE,
    STATUS_BAD_SIGMA,
    STATUS_INCOMPLETE,
    STATUS_NONFINITE_COST,
    STATUS_NONFINITE_PARAMS,
)
from diffid_plugins.solvers._bindings import N_INPUTS, N_OUTPUTS, N_STATES  # model-bindings
from diffid_plugins.solvers._driver import solve_kernel  # model-bindings
from diffid_plugins.solvers._status import N_STATS, STAT_K, STATUS_ROOT

__all__ = ["batch_kernel", "batch_outputs_kernel"]

_BT_LOG_2PI = math.log(2.0 * math.pi)


@njit(cache=True, error_model="numpy")
def _bt_check(x, cost):
    """0 when row ``x`` can be solved and scored, else its failure status (non-finite
    entries, or a noise level that is not positive and finite)."""
    cost_kind, _, _, sigma, sigma_index = cost
    for j in range(x.shape[0]):
        if not math.isfinite(x[j]):
            return STATUS_NONFINITE_PARAMS
    for term in range(cost_kind.shape[0]):
        if cost_kind[term] == COST_GAUSSIAN_NLL:
            for j in range(N_OUTPUTS):
                col = sigma_index[term, j]
                s = sigma[term, j] if col < 0 else x[col]
                if not (s > 0.0 and math.isfinite(s)):
                    return STATUS_BAD_SIGMA
    return 0


@njit(cache=True, error_model="numpy")
def _bt_cost(x, sq, n_t, cost):
    """``(cost, status)`` of a solved row ``x`` from its per-output sums of squares ``sq``
    (N_OUTPUTS,) over ``n_t`` data times: the terms of the module docstring, summed in term
    order; a non-finite total is a failure (``STATUS_NONFINITE_COST``, cost ``inf``)."""
    cost_kind, cost_weight, out_weight, sigma, sigma_index = cost
    total = 0.0
    for term in range(cost_kind.shape[0]):
        kind = cost_kind[term]
        value = 0.0
        if kind == COST_GAUSSIAN_NLL:
            for j in range(N_OUTPUTS):
                col = sigma_index[term, j]
                s = sigma[term, j] if col < 0 else x[col]
                var = s * s
                value += out_weight[term, j] * (
                    0.5 * n_t * (_BT_LOG_2PI + math.log(var)) + sq[j] / (2.0 * var)
                )
        else:
            for j in range(N_OUTPUTS):
                value += out_weight[term, j] * sq[j]
            if kind == COST_RMSE:
                value = math.sqrt(value / (n_t * N_OUTPUTS))
        total += cost_weight[term] * value
    if not math.isfinite(total):
        return math.inf, STATUS_NONFINITE_COST
    return total, 0


@njit(cache=True, error_model="numpy")
def _bt_work(n_t):
    """Work arrays of one chunk: inputs, output rows, states, times, counters, sums."""
    p = np.empty(N_INPUTS)
    ys = np.empty((n_t, N_OUTPUTS))
    us = np.empty((n_t, N_STATES))
    ts = np.empty(n_t)
    stats = np.zeros(N_STATS, dtype=np.int64)
    sq = np.empty(N_OUTPUTS)
    return p, ys, us, ts, stats, sq


@njit(cache=True, error_model="numpy")
def _bt_row(x, fixed, solver, cost, work):
    """Cost and status of one parameter row (the arrays of ``work``, from ``_bt_work``, are
    overwritten before they are read)."""
    bad = _bt_check(x, cost)
    if bad != 0:
        return math.inf, bad
    p_default, param_index, t0, t_eval, data = fixed
    method, rtol, atol, max_steps = solver
    p, ys, us, ts, stats, sq = work
    for j in range(N_INPUTS):
        p[j] = p_default[j]
    for j in range(param_index.shape[0]):
        p[param_index[j]] = x[j]
    status = solve_kernel(p, t0, t_eval, method, rtol, atol, max_steps, ys, us, ts, stats)
    if status < 0:
        return math.inf, status
    n_t = t_eval.shape[0]
    if status == STATUS_ROOT and (stats[STAT_K] != n_t or ts[n_t - 1] != t_eval[n_t - 1]):
        return math.inf, STATUS_INCOMPLETE
    for j in range(N_OUTPUTS):
        sq[j] = 0.0
    for i in range(n_t):
        for j in range(N_OUTPUTS):
            r = ys[i, j] - data[i, j]
            sq[j] += r * r
    total, bad = _bt_cost(x, sq, n_t, cost)
    return total, (bad if bad != 0 else status)


@njit(parallel=True, cache=True, error_model="numpy")
def batch_kernel(X, fixed, solver, cost, n_chunks, costs, statuses):  # noqa: N803
    """Score every row of ``X``: ``costs[i]``, ``statuses[i]`` for parameter row ``X[i]``.

    Parameters
    ----------
    X : float64 (n, n_params)
        Parameter rows: fitted model inputs first, then estimated noise levels.
    fixed : tuple
        ``(p_default, param_index, t0, t_eval, data)``: the inputs used for the model inputs
        that are not fitted (N_INPUTS,), the positions of the fitted ones (``p[param_index[j]]
        = X[i, j]``, int64 (n_fit,)), the initial time, the data times (n_t,) (non-decreasing,
        >= t0) and the observations (n_t, N_OUTPUTS).
    solver : tuple
        ``(method, rtol, atol, max_steps)`` as ``solve_kernel``: method code, scalar rtol,
        atol (N_STATES,), step bound.
    cost : tuple
        ``(cost_kind, cost_weight, out_weight, sigma, sigma_index)``: the cost, one entry
        (row) per summed term (module docstring).
    n_chunks : int
        Number of chunks of contiguous rows (1 <= n_chunks <= n); each chunk is one task of
        the ``prange`` and allocates its work arrays once.
    costs : float64 (n,)
        Output: the cost of each row (``inf`` for failed rows).
    statuses : int64 (n,)
        Output: the status of each row.
    """
    n = X.shape[0]
    no_values = np.empty((0, N_OUTPUTS))
    for c in prange(n_chunks):
        lo = (c * n) // n_chunks
        hi = ((c + 1) * n) // n_chunks
        _bt_chunk(X, lo, hi, fixed, solver, cost, costs, statuses, no_values)


@njit(cache=True, error_model="numpy")
def _bt_chunk(X, lo, hi, fixed, solver, cost, costs, statuses, values):  # noqa: N803
    """Score rows ``lo..hi-1`` of ``X`` with ``_bt_row`` on one work array (one ``prange``
    task of ``batch_kernel`` / ``batch_outputs_kernel``). When ``values`` has rows (n,
    N_OUTPUTS) it also receives each row's per-output costs (``_bt_cost_outputs``; ``inf`` in
    every column of a failed row); ``batch_kernel`` passes an empty (0, N_OUTPUTS) array."""
    n_t = fixed[3].shape[0]
    work = _bt_work(n_t)
    per_output = values.shape[0] > 0
    for i in range(lo, hi):
        costs[i], statuses[i] = _bt_row(X[i], fixed, solver, cost, work)
        if per_output:
            if math.isfinite(costs[i]):
                _bt_cost_outputs(X[i], work[5], n_t, cost, values[i])
            else:
                for j in range(N_OUTPUTS):
                    values[i, j] = math.inf


# --- per-output costs (``Problem.evaluate_batch_per_output``) ---------------------------------
@njit(cache=True, error_model="numpy")
def _bt_cost_outputs(x, sq, n_t, cost, values):
    """Write into ``values`` (N_OUTPUTS,) the cost of a solved row ``x`` restricted to each
    output: every term of the cost evaluated on that output's residuals alone, summed in term
    order. ``SSE``: ``w v_j S_j``; ``RMSE``: ``w sqrt(v_j S_j / n_t)`` (the RMSE of that
    output's ``n_t`` residuals); ``NLL``: ``w v_j (n_t/2 ln(2 pi sigma_j^2) + S_j /
    (2 sigma_j^2))``. SSE and NLL terms are sums over outputs, so the values add up to the
    row's cost (exactly for one term of weight 1: the same products are added in the same
    order). A non-finite value is stored as ``inf``."""
    cost_kind, cost_weight, out_weight, sigma, sigma_index = cost
    for j in range(N_OUTPUTS):
        total = 0.0
        for term in range(cost_kind.shape[0]):
            kind = cost_kind[term]
            if kind == COST_GAUSSIAN_NLL:
                col = sigma_index[term, j]
                s = sigma[term, j] if col < 0 else x[col]
                var = s * s
                value = out_weight[term, j] * (
                    0.5 * n_t * (_BT_LOG_2PI + math.log(var)) + sq[j] / (2.0 * var)
                )
            elif kind == COST_RMSE:
                value = math.sqrt(out_weight[term, j] * sq[j] / n_t)
            else:
                value = out_weight[term, j] * sq[j]
            total += cost_weight[term] * value
        values[j] = total if math.isfinite(total) else math.inf


@njit(parallel=True, cache=True, error_model="numpy")
def batch_outputs_kernel(X, fixed, solver, cost, n_chunks, costs, statuses, values):  # noqa: N803
    """``batch_kernel`` that also writes each row's cost restricted to each output.

    Arguments as ``batch_kernel``, plus ``values`` float64 (n, N_OUTPUTS), an output:
    ``values[i, j]`` is the cost of row ``i`` on output ``j`` alone (``_bt_cost_outputs``),
    ``inf`` in every column of a failed row. ``costs`` and ``statuses`` are those of
    ``batch_kernel`` bit for bit: each row is scored by the same ``_bt_row``, whose per-output
    sums of squares (the last work array) are then read for the per-output values.
    """
    n = X.shape[0]
    for c in prange(n_chunks):
        lo = (c * n) // n_chunks
        hi = ((c + 1) * n) // n_chunks
        _bt_chunk(X, lo, hi, fixed, solver, cost, costs, statuses, values)
