"""Azure Automation runbooks shipped with the program (published by components/recovery_plan.py)."""
