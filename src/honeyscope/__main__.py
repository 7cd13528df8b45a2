from honeyscope.cli import main

raise SystemExit(main())
