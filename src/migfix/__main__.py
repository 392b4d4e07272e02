from migfix.start import main

main()
