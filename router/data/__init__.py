"""The router's run-time data, shipped inside the package: the classifier's training examples
(`classify/`), the calibration suites (`suites/`) and the example profiles (`profiles`, mapped
from the top-level `profiles/examples` by pyproject.toml). `router.paths` names each place."""
