from migfix.fastcli import run

run()
