package shell

import (
	"os/exec"
	"reflect"
	"testing"
)

var words = []string{
	"",
	"plain",
	"two words",
	"it's",
	"''",
	`"double"`,
	"$HOME ${PATH} $(id) `id`",
	`back\slash \\ \n \'`,
	"line1\nline2\n",
	"tab\there",
	"*?[a] ~ # ; & | < > ( ) { } !",
	"<Name>layer</Name>",
	"http://127.0.0.1/wfs?SERVICE=WFS&TYPENAMES=a%3Ab",
	"café ✓",
}

func TestQuote(t *testing.T) {
	for s, want := range map[string]string{
		"":      "''",
		"abc":   "'abc'",
		"it's":  `'it'\''s'`,
		"$x \\": `'$x \'`,
	} {
		if got := Quote(s); got != want {
			t.Errorf("Quote(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestJoin(t *testing.T) {
	if got, want := Join("a", "b c", ""), `'a' 'b c' ''`; got != want {
		t.Errorf("Join = %s, want %s", got, want)
	}
	if got := Join(); got != "" {
		t.Errorf("Join() = %q, want empty", got)
	}
}

// TestRoundTrip runs the quoted words through /bin/sh and checks it reads them back
// unchanged, one argument each.
func TestRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	// Each argument is printed followed by a NUL, so that newlines and empty words survive.
	out, err := exec.Command(sh, "-c", `for a in `+Join(words...)+`; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	start := 0
	for i, c := range out {
		if c == 0 {
			got = append(got, string(out[start:i]))
			start = i + 1
		}
	}
	if !reflect.DeepEqual(got, words) {
		t.Errorf("sh read back\n%q\nwant\n%q", got, words)
	}
	for _, w := range words {
		out, err := exec.Command(sh, "-c", `printf %s `+Quote(w)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != w {
			t.Errorf("sh printed %q for Quote(%q)", out, w)
		}
	}
}

// Word leaves plain words alone and quotes the rest; sh reads every one back unchanged.
func TestWord(t *testing.T) {
	if got := Word("jobfile.js"); got != "jobfile.js" {
		t.Errorf("Word(jobfile.js) = %s", got)
	}
	if got := Word("a b"); got != "'a b'" {
		t.Errorf("Word(a b) = %s", got)
	}
	sh, err := exec.LookPath("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	for _, w := range words {
		out, err := exec.Command(sh, "-c", `printf %s `+Word(w)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != w {
			t.Errorf("sh printed %q for Word(%q) = %s", out, w, Word(w))
		}
	}
}
