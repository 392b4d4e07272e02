from migfix.cli.main import run

run()
