package schedrun

import "time"

// Sleep exposes the run loop's sleep computation to the tests.
func (r *Runner) Sleep(now, lastSync time.Time, refresh time.Duration) time.Duration {
	return r.sleep(now, lastSync, refresh)
}
