"""r1ci: R1-Code-Interpreter reproduction suite."""
