"""Calibration: models x task suites -> a measured profile. Running it, timing requests,
turning results into a profile, the suites' schema, the report and its chart."""
