"""The CrossGuard policy pack. Importable modules only; never import policies.__main__."""
