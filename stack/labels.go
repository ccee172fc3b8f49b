package stack

import "strings"

// LabelPrefix starts the keys of Kargo's labels (written out in full below, so a key seen on
// an object is found by searching for it). Node labels under it are Kargo's alone (see
// Stack.Nodes); on other objects only the keys below are reserved, builders use others.
const LabelPrefix = "io.kargo."

// Labels Kargo (or docker stack) puts on the Swarm objects it manages. A stack may not set
// them (see ReservedLabel): its objects would escape their namespace or fool the Applier.
const (
	// LabelNamespace is docker stack's namespace label: the stack an object belongs to.
	LabelNamespace = "com.docker.stack.namespace"
	// LabelStackImage is the label docker stack puts on the services it deploys.
	LabelStackImage = "com.docker.stack.image"
	// LabelHash is the hash of an object's desired spec (or content) when it was applied.
	LabelHash = "io.kargo.hash"
	// LabelLastApplied holds the desired service spec, gzipped and base64-encoded, so a plan
	// can show which fields changed (like kubectl's last-applied-configuration).
	LabelLastApplied = "io.kargo.last-applied"
	// LabelName is the object's name within its stack (without the stack prefix or version).
	LabelName = "io.kargo.name"
	// LabelSchedule is the cron schedule of a scheduled job service.
	LabelSchedule = "io.kargo.schedule"
	// LabelGenerated marks a secret whose content Kargo generated: it is kept across applies.
	LabelGenerated = "io.kargo.generated"
	// LabelImageVersion, on the containers of a service using a Kargo image, is the version
	// of the image's build context: a changed context changes the spec and rolls out.
	LabelImageVersion = "io.kargo.image-version"
	// LabelRunPrefix prefixes the run labels: those the scheduler (and `kargo backup`) write
	// on job services when they start a run. The Applier keeps them on update.
	LabelRunPrefix = "io.kargo.run."
)

// Run labels, written on a job service when a run starts. Status reads the first three.
const (
	// LabelRunLast is the start time (RFC 3339, UTC) of the run started last.
	LabelRunLast = LabelRunPrefix + "last"
	// LabelRunResult is RunRunning when written; Status derives the live result of that run
	// from its tasks.
	LabelRunResult = LabelRunPrefix + "result"
	// LabelRunNext is the time of the scheduler's next tick after the last run.
	LabelRunNext = LabelRunPrefix + "next"
	// LabelRunPrevious is the result of the run before the last one, computed from its tasks
	// when the last one was started.
	LabelRunPrevious = LabelRunPrefix + "previous"
	// LabelRunRuns counts the runs started.
	LabelRunRuns = LabelRunPrefix + "runs"
	// LabelRunSkipped counts the scheduler's ticks skipped because a run was still going.
	LabelRunSkipped = LabelRunPrefix + "skipped"
)

// Results of a run, the values of LabelRunResult and LabelRunPrevious.
const (
	// RunRunning is the result of a run whose tasks are not all done.
	RunRunning = "running"
	// RunSucceeded is the result of a run whose tasks all completed.
	RunSucceeded = "succeeded"
	// RunFailed is the result of a run one of whose tasks failed.
	RunFailed = "failed"
	// RunUnknown is the result of a run none of whose tasks are left to look at.
	RunUnknown = "unknown"
)

// LabelRole names what a service does for other parts of Kargo (a scheduler, a backup, a
// restore...), so they find it without knowing its name.
const LabelRole = "io.kargo.role"

// reservedLabels are the exact keys of the labels Kargo or docker stack manage; every key
// under LabelRunPrefix is managed too.
var reservedLabels = map[string]bool{
	LabelNamespace: true, LabelStackImage: true, LabelHash: true, LabelLastApplied: true,
	LabelName: true, LabelSchedule: true, LabelGenerated: true, LabelImageVersion: true,
}

// ReservedLabel reports whether a label key is managed by Kargo or docker stack and so
// cannot be set by a stack.
func ReservedLabel(k string) bool {
	return reservedLabels[k] || strings.HasPrefix(k, LabelRunPrefix)
}
