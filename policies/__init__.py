"""The CrossGuard policy pack (``pulumi preview --policy-pack policies``).

- ``__main__.py``: the pack's entry point; it loads this directory as the package ``policies``
  and assembles the ``PolicyPack`` (which serves gRPC forever: never import it);
- ``pack.py``: the rule list; ``rules/``: the rules, one module per concern;
- ``framework.py`` (what a rule is), ``estate.py`` (the index of a stack's network resources),
  ``values.py`` (reading properties that may be unknown), ``sdk_glue.py`` (where the pack
  changes pulumi-policy's own behaviour);
- ``shared/``: libraries the program imports too (address logic, Azure facts, names).

Every module imports its siblings relatively, in the pack and in the program alike.
"""
