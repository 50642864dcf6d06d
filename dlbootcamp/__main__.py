from dlbootcamp.cli import main

raise SystemExit(main())
