"""clinic_app.gui layer."""
