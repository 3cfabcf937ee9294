"""The national stream simulator and its ground truth (see docs/integrators.md).

``generate(seed, n_events=..., now=...)`` returns a :class:`Simulation`: the Kafka records to
produce (key = province, value = JSON array of events) and the truth, shaped like the live
API's answers; ``compare(truth_part, api_answer)`` lists the differences.
"""

from ingest.simulate.compare import compare
from ingest.simulate.generate import Knobs, Simulation, generate
from ingest.simulate.truth import compute_truth, effective_events

__all__ = ["Knobs", "Simulation", "compare", "compute_truth", "effective_events", "generate"]
