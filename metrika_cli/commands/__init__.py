"""One module per command. Each has the Typer function that parses its options (its docstring
is not the help: app.py registers it with a translatable one) and a plain `run` that works,
takes the Env and returns the exit code. check-access's and whoami's Typer functions are in
signatures.py, so that main.py's lean path runs those two without Typer."""
