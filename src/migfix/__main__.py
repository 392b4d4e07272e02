from migfix.fastcli import main

raise SystemExit(main())
