"""The pure model: no Pulumi resources, no I/O.

- ``config/``: the stack config, validated once at the edge (types, models, loading, rules);
- ``spec.py``: every network the stacks build (source, target replica, drill), as plain data;
- ``phases.py``: the connections each stack holds per phase and the ordered failover, failback
  and drill procedures: the one home of the phase rules, read by the program, the offline plan,
  the failover command and the Automation runbook's generated settings.
"""
