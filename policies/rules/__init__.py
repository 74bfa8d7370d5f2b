"""The pack's rules, one module per concern; :mod:`policies.pack` lists them."""
