import os

from hypothesis import HealthCheck, settings

# The default run stays quick; `HYPOTHESIS_PROFILE=fuzz` (`make fuzz`) runs the same properties
# on many thousands of inputs. No deadline: two shared cores make per-example timings noise.
settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile(
    "fuzz",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
