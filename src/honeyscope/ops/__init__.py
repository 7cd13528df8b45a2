"""Test and operations tooling (a local Spark cluster, ...): not imported by the pipeline."""
