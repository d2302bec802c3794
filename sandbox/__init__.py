"""Simulated Evolution API v2 and GreenAPI server: the local run, integration tests, benchmarks."""
