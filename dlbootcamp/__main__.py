from dlbootcamp.app.cli import main

raise SystemExit(main())
