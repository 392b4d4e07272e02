from migfix.cli import main

raise SystemExit(main())
