"""The patient chart: header, cycle timeline and read-only tabs (``ChartPanel``)."""
