/*
** test_oom_known.h — the cases of test_oom.c known to fail until fixes
** outside tests/ land: {"op/variant", "known limit"} (the items are
** listed above aKnownFailure in test_oom.c). Every variant is listed, the
** default run's and RAFTLITE_OOM_VARIANTS=all's; the Ns tried are those
** of the default budget. Remove a line when its case passes: until then
** the run fails.
*/
{"openFresh/persistCold", "1"},
{"sqlInstall/persistCold", "1"},
{"sqlInstall/onceCold", "1"},
