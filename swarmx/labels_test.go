package swarmx_test

import (
	"testing"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// The labels the Applier relies on cannot be set by a stack (Validate rejects them), so no
// object can leave its namespace or fake its hash.
func TestBookkeepingLabelsAreReserved(t *testing.T) {
	for _, k := range []string{swarmx.LabelNamespace, swarmx.LabelHash, swarmx.LabelLastApplied, swarmx.LabelName,
		swarmx.LabelSchedule, swarmx.LabelGenerated, swarmx.LabelRunPrefix + "last"} {
		if !stack.ReservedLabel(k) {
			t.Errorf("label %q is not reserved by stack.Validate", k)
		}
	}
}
