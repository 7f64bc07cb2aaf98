"""Benchmarks: scripts that measure, print a table, and compare against a baseline."""
