"""Tests of clinic_app.services."""
