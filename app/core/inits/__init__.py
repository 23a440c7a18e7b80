"""Seeded tensor and module initialisations, exactly as torch makes them."""
