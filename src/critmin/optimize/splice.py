"""Re-solve the reserve programme after a change that reaches few of its blocks, rebuilding in
linopy only the first stage and the blocks whose data changed.

The risk-neutral programme is the first stage followed by one second-stage block per mineral
(critmin.optimize.cases); a block's rows and columns are built from that block's data alone
(:meth:`ReserveProblem.part`: the mineral's cases, lots, agreements, conversion paths,
projects, the accounting) and the first-stage columns, whose labels do not depend on any
block. So when a block's data are equal to a built programme's, its rows and columns (bounds,
costs, coefficients) are equal too, and are taken from that programme. The spliced matrices
are laid out in the order a full build would give (first stage, then the blocks in order,
each block's labels shifted by the sizes of the blocks before it), and passed to HiGHS as
linopy passes a model (linopy.solvers.Highs._build_solver_model): the same LP, column by
column and row by row, as a full build, hence the same solution. The linopy build is
about 99% of a re-solve's time (docs/performance.md); HiGHS takes milliseconds on this LP.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp  # type: ignore[import-untyped]
import xarray as xr

from critmin.optimize.cases import Block
from critmin.optimize.problem import Infeasible, ReserveProblem, quiet_stdout


@dataclass(frozen=True)
class Matrices:
    """A built programme's LP as linopy passes it to HiGHS (positions follow the labels)."""

    vlabels: np.ndarray
    clabels: np.ndarray
    A: sp.csr_matrix
    c: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    b: np.ndarray
    sense: np.ndarray

    @classmethod
    def of(cls, problem: ReserveProblem) -> Matrices:
        M = problem.model.matrices
        A = M.A
        assert A is not None
        out = cls(
            np.asarray(M.vlabels),
            np.asarray(M.clabels),
            sp.csr_matrix(A.tocsr()),
            np.asarray(M.c, dtype=float),
            np.asarray(M.lb, dtype=float),
            np.asarray(M.ub, dtype=float),
            np.asarray(M.b, dtype=float),
            np.asarray(M.sense),
        )
        assert (np.diff(out.vlabels) > 0).all()
        assert (np.diff(out.clabels) > 0).all()
        return out


@dataclass(frozen=True)
class Built:
    """A programme built in full, with its matrices: the source of unchanged blocks."""

    problem: ReserveProblem
    matrices: Matrices

    @classmethod
    def of(cls, problem: ReserveProblem) -> Built:
        problem.build()
        return cls(problem, Matrices.of(problem))


def _same(a: Any, b: Any) -> bool:
    """Equal data: frames and arrays by value (labels included), dataclasses field by field."""
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, pd.Series):
        return isinstance(b, pd.Series) and a.equals(b)
    if isinstance(a, xr.DataArray):
        return isinstance(b, xr.DataArray) and a.equals(b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a) if f.init
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


def same_block(p: ReserveProblem, block: Block, q: ReserveProblem, other: Block) -> bool:
    """Whether two programmes' blocks read the same data (so build the same rows and columns
    on the same first stage)."""
    if block.mineral != other.mineral or block.mineral is None:
        return False
    return (
        _same(block.weight, other.weight)
        and _same(p.part(block), q.part(other))
        and _same(p.accounting, q.accounting)
    )


@dataclass(frozen=True)
class Spliced:
    """A programme solved by splicing: ``problem`` built as far as spliced (the first stage
    and the changed blocks), the LP passed to HiGHS and its column values by position."""

    problem: ReserveProblem
    matrices: Matrices
    values: np.ndarray

    def solution(self, variable: str) -> xr.DataArray:
        """A first-stage variable's values, labelled as linopy labels them (NaN: masked)."""
        labels = self.problem.model.variables[variable].labels
        flat = labels.values.ravel()
        at = np.searchsorted(self.matrices.vlabels, flat).clip(max=self.values.size - 1)
        ok = (flat >= 0) & (self.matrices.vlabels[at] == flat)
        out = np.where(ok, self.values[at], np.nan).reshape(labels.shape)
        return xr.DataArray(out, coords=labels.coords, dims=labels.dims)


def solve_spliced(base: Built, problem: ReserveProblem) -> Spliced | None:
    """Solve ``problem`` rebuilding only the blocks whose data differ from ``base``'s; None
    when it cannot be spliced (not risk-neutral, or its blocks or first stage are laid out
    otherwise), when the caller builds and solves it in full; else the HiGHS column values
    and the problem, built as far as spliced (:class:`Spliced`)."""
    bp = base.problem
    if problem.risk.weight > 0 or bp.risk.weight > 0 or not problem.aggregate:
        return None
    blocks = problem.stage_two()
    if [b.mineral for b in blocks] != [b.mineral for b in bp.blocks]:
        return None
    changed = frozenset(
        str(b.mineral)
        for b, o in zip(blocks, bp.blocks, strict=True)
        if not same_block(problem, b, bp, o)
    )
    if len(changed) == len(blocks):  # nothing to take from the base (e.g. the capital cost)
        return None
    case = replace(problem, only=changed)
    case.build()
    if case.first_stage != bp.first_stage:
        return None
    mine = Matrices.of(case)
    fv, fc = bp.first_stage
    # the full build's layout: blocks in order, each as long as its source's
    at_v, at_c = fv, fc
    from_base_v: list[tuple[int, int, int]] = []
    from_base_c: list[tuple[int, int, int]] = []
    from_case_v: list[tuple[int, int, int]] = []
    from_case_c: list[tuple[int, int, int]] = []
    for b in blocks:
        name = str(b.mineral)
        src, (v0, v1, c0, c1) = (
            ("case", case.spans[name]) if name in changed else ("base", bp.spans[name])
        )
        (from_case_v if src == "case" else from_base_v).append((v0, v1, at_v))
        (from_case_c if src == "case" else from_base_c).append((c0, c1, at_c))
        at_v, at_c = at_v + v1 - v0, at_c + c1 - c0
    parts = []
    for m, sv, sc, first in (
        (base.matrices, from_base_v, from_base_c, False),
        (mine, from_case_v, from_case_c, True),
    ):
        cols = _in(m.vlabels, sv, fv if first else 0)
        rows = _in(m.clabels, sc, fc if first else 0)
        parts.append((m, cols, rows, sv, sc))
    vl = np.concatenate([_moved(m.vlabels[cols], sv) for m, cols, _, sv, _ in parts])
    cl = np.concatenate([_moved(m.clabels[rows], sc) for m, _, rows, _, sc in parts])
    vorder, corder = np.argsort(vl, kind="stable"), np.argsort(cl, kind="stable")
    vlabels, clabels = vl[vorder], cl[corder]
    if (np.diff(vlabels) <= 0).any() or (np.diff(clabels) <= 0).any():
        return None
    n, k = vlabels.size, clabels.size
    triplets = []
    for m, cols, rows, sv, sc in parts:
        sub = m.A[np.flatnonzero(rows)].tocoo()
        r_new = np.searchsorted(clabels, _moved(m.clabels[np.flatnonzero(rows)][sub.row], sc))
        c_lab = m.vlabels[sub.col]
        c_new = np.searchsorted(vlabels, _moved(c_lab, sv))
        if not (np.isin(c_lab, m.vlabels[cols]) | (c_lab < fv)).all():
            return None  # a row reaching a column of a block it does not belong to
        triplets.append((r_new, c_new, sub.data))
    r_all = np.concatenate([t[0] for t in triplets])
    c_all = np.concatenate([t[1] for t in triplets])
    d_all = np.concatenate([t[2] for t in triplets])
    A = sp.csr_matrix((d_all, (r_all, c_all)), shape=(k, n))
    A.sort_indices()

    def gather(attr: str, axis: str) -> np.ndarray:
        out = np.concatenate(
            [getattr(m, attr)[cols if axis == "v" else rows] for m, cols, rows, _, _ in parts]
        )
        return out[vorder if axis == "v" else corder]

    spliced = Matrices(
        vlabels,
        clabels,
        A,
        gather("c", "v"),
        gather("lb", "v"),
        gather("ub", "v"),
        gather("b", "c"),
        gather("sense", "c"),
    )
    return Spliced(case, spliced, _run(spliced))


def _in(labels: np.ndarray, spans: list[tuple[int, int, int]], first: int) -> np.ndarray:
    """Mask of labels in the given spans, or in the first stage (< first; 0: none)."""
    pick = labels < first
    for start, end, _ in spans:
        pick |= (labels >= start) & (labels < end)
    return pick


def _moved(labels: np.ndarray, spans: list[tuple[int, int, int]]) -> np.ndarray:
    """Labels moved from their source's block spans to the full build's."""
    out = labels.copy()
    for start, end, to in spans:
        pick = (labels >= start) & (labels < end)
        out[pick] = labels[pick] - start + to
    return out


def _run(M: Matrices) -> np.ndarray:
    """Solve as linopy's direct HiGHS interface does; the column values by position."""
    with quiet_stdout():  # HiGHS prints its banner from C on creation
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.addVars(len(M.vlabels), M.lb, M.ub)
    h.changeColsCost(len(M.c), np.arange(len(M.c), dtype=np.int32), M.c)
    lower = np.where(M.sense != "<", M.b, -np.inf)
    upper = np.where(M.sense != ">", M.b, np.inf)
    h.addRows(len(M.clabels), lower, upper, M.A.nnz, M.A.indptr, M.A.indices, M.A.data)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise Infeasible(f"the spliced programme is not solved: {h.modelStatusToString(status)}")
    return np.asarray(h.getSolution().col_value, dtype=float)
