package stack

import "testing"

func TestSecretHasSource(t *testing.T) {
	for name, tc := range map[string]struct {
		s    Secret
		want bool
	}{
		"name only":  {Secret{Name: "pw", Labels: map[string]string{"a": "b"}}, false},
		"zero":       {Secret{}, false},
		"data":       {Secret{Data: []byte("x")}, true},
		"empty data": {Secret{Data: []byte{}}, true},
		"file":       {Secret{File: "pw.txt"}, true},
		"env":        {Secret{Env: "PW"}, true},
		"generate":   {Secret{Generate: 24}, true},
		"external":   {Secret{External: true}, true},
	} {
		if got := tc.s.HasSource(); got != tc.want {
			t.Errorf("%s: HasSource() = %v, want %v", name, got, tc.want)
		}
	}
}
