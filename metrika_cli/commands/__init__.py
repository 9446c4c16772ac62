"""One module per command. Each has the Typer function that parses its options (its docstring
is not the help: app.py registers it with a translatable one) and a plain `run` that works,
takes the Env and returns the exit code."""
