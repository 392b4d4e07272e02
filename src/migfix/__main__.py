from migfix.cli.fast import run

run()
