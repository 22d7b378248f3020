"""Tables as files: CSV and XLSX bytes for the CLI's ``--format`` and the web's downloads."""

from __future__ import annotations

import io

import pandas as pd

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def table_bytes(frame: pd.DataFrame, fmt: str, sheet: str = "critmin") -> bytes:
    """``frame`` as CSV (UTF-8) or as an XLSX workbook with one sheet."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if fmt == "xlsx":
        out = io.BytesIO()
        flat = frame.copy()
        for col in flat.columns:
            if flat[col].map(lambda v: isinstance(v, list | tuple | dict)).any():
                flat[col] = flat[col].map(
                    lambda v: "; ".join(map(str, v)) if isinstance(v, list | tuple) else v
                )
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            flat.to_excel(writer, sheet_name=sheet[:31], index=False)
        return out.getvalue()
    raise ValueError(f"unknown table format {fmt!r} (csv, xlsx)")
