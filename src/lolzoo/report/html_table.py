"""A table as a standalone HTML page: what the Snakemake report shows of a table, since it
renders HTML and images inline but offers CSV files only as downloads."""

from __future__ import annotations

import html

import pandas as pd

STYLE = ("<style>body{font-family:sans-serif} table.lolzoo{border-collapse:collapse}"
         " table.lolzoo td,table.lolzoo th{padding:4px 10px;border-bottom:1px solid #ccc;text-align:right}"
         " table.lolzoo td:first-child,table.lolzoo th:first-child{text-align:left}</style>")


def html_page(frame: pd.DataFrame, note: str = "") -> str:
    table = frame.to_html(index=False, border=0, classes="lolzoo", escape=True, na_rep="")
    paragraph = f"\n<p>{html.escape(note)}</p>" if note else ""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">{STYLE}</head><body>\n"
            f"{table}{paragraph}</body></html>\n")
