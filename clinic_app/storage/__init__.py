"""clinic_app.storage layer."""
