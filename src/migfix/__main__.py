from migfix.procexit import quiet_start

quiet_start()  # before the command's modules are imported (see migfix.procexit)

from migfix.cli.main import run  # noqa: E402

run()
