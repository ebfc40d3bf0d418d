from reconciler.simulator.cli import main

raise SystemExit(main())
