"""Analyzer families: one module per family, each declaring its rules next to its code."""
