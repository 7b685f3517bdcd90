from benchmarks.proxy_overhead.run import main

raise SystemExit(main())
