"""Libraries the program imports too: the config validation (``model/``) and the tooling use the
same address logic, Azure facts and names as the policies. Standard library only, so the pack
stays self-contained (the program imports the pack's code, never the reverse)."""
