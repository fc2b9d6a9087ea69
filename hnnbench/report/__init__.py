"""The report generator: every run record under a folder → Markdown, HTML, CSV, LaTeX and figures.

``hnnbench-report RESULTS_DIR [--out DIR]``; from Python, ``build_report(records, out_dir)``.
"""

from hnnbench.report.build import ReportFiles, build_report

__all__ = ["ReportFiles", "build_report"]
