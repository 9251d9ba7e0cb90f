"""The pure clinical domain: protocols, dosing, grading, response, DLT, 3+3 and endpoints.

Standard library only. Nothing here imports Qt, SQLite or ReportLab (enforced by import-linter
and by running these tests in an environment without PySide6).
"""
