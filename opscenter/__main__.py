from opscenter.cli import main

raise SystemExit(main())
