"""The program's wiring, beside ``__main__.py``: reading Pulumi config into the model
(``stack.py``), the target stack's extra components (``target.py``), the stack outputs
(``outputs.py``) and the stack transformation that drops azure-native's API-version aliases
(``aliases.py``). Components live in ``components/``; the model in ``model/``."""
