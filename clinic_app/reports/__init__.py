"""clinic_app.reports layer."""
