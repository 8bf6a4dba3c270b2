"""The kernel every app may import: no Django models, no app imports."""
