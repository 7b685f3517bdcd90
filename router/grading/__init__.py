"""Grading: deterministic checks of an answer (language, loops, facts, task evidence, format,
JSON) and code answers run in the operating system's sandbox. A leaf: it imports nothing of
routing, serving or calibration."""
