/*
** test_oom_known.h — the cases of test_oom.c known to fail until fixes
** outside tests/ land: {"op/variant", "item of issue 7"} (the items are
** listed above aKnownFailure in test_oom.c). Every variant is listed, the
** default run's and RAFTLITE_OOM_VARIANTS=all's; the Ns tried are those
** of the default budget. Remove a line when its case passes: until then
** the run fails.
*/
{"openFresh/persistCold", "1"},
{"declaredApply/persistCold", "1"},
{"declaredApply/persistWarm", "1"},
{"declaredImageInstall/persistCold", "1, 2"},
{"declaredImageInstall/onceCold", "2"},
{"declaredImageInstall/persistWarm", "1, 2"},
{"declaredImageInstall/onceWarm", "2"},
{"sqlInstall/persistCold", "1"},
{"sqlInstall/onceCold", "1"},
{"sqlCheck/persistCold", "4"},
{"sqlCheck/onceCold", "4"},
{"sqlCheck/persistWarm", "4"},
{"sqlCheck/onceWarm", "4"},
{"sqlApply/persistCold", "1"},
{"sqlApply/onceCold", "1"},
{"sqlApply/persistWarm", "1"},
{"sqlApply/onceWarm", "1"},
{"sqlStateMachine/persistCold", "1"},
{"sqlStateMachine/onceCold", "1"},
{"sqlStateMachine/persistWarm", "1"},
{"sqlStateMachine/onceWarm", "1"},
{"sqlSnapshotBuild/persistCold", "5"},
{"sqlSnapshotBuild/onceCold", "5"},
{"sqlSnapshotBuild/persistWarm", "5"},
{"sqlSnapshotBuild/onceWarm", "5"},
{"sqlSnapshotInstall/onceCold", "3"},
{"sqlSnapshotInstall/onceWarm", "3"},
{"sqlImageInstall/persistCold", "1, 2"},
{"sqlImageInstall/onceCold", "1, 2"},
{"sqlImageInstall/persistWarm", "1, 2"},
{"sqlImageInstall/onceWarm", "1, 2"},
