"""A/B of the lane batch kernel between two checkouts: run it with PYTHONPATH=<checkout>.

Prints the median time per row (us) of ``evaluate_batch(X, n_threads=1)`` on the seed tutorial
problem (2000 rows within +-20 % of the true parameters, 25 batches). Alternate two checkouts in
a shell loop, e.g.::

    for r in 1 2 3 4 5 6; do
      b=$(PYTHONPATH=/path/old python benchmarks/ab_lanes.py)
      a=$(PYTHONPATH=/path/new python benchmarks/ab_lanes.py)
      echo "$r before $b after $a"
    done

Works with checkouts from before the examples module held the tutorial (commit 5f02464).
"""

import time

import numpy as np

from diffid_plugins import Problem, compile_model

try:
    from diffid_plugins.examples import tutorial_data, tutorial_text
except ImportError:
    from diffid_plugins.problem._tutorial import tutorial_data, tutorial_text
try:
    m = compile_model(tutorial_text(), tier="specialised")
except TypeError:
    m = compile_model(tutorial_text())
p = Problem(m, tutorial_data())
X = np.array([1.1, 0.4, 0.1, 0.4]) * np.random.default_rng(0).uniform(0.8, 1.2, (2000, 4))
p.evaluate_batch(X, n_threads=1)
ts = []
for _ in range(25):
    t = time.perf_counter()
    p.evaluate_batch(X, n_threads=1)
    ts.append((time.perf_counter() - t) / 2000)
print(np.median(ts) * 1e6)
