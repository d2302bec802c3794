"""Simulated Evolution API v2 and GreenAPI server for the local run, integration tests and benchmarks."""
