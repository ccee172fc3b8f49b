// Package shell quotes words for the POSIX shell command lines that service builders put in
// health checks, job scripts and container commands.
package shell

import "strings"

// Quote returns s as one single-quoted word for a POSIX shell: the shell reads it back as
// exactly s, with no expansion of $, `, \ or newlines. An embedded single quote closes the
// quoted part, is written escaped with a backslash, and the quoting reopens. The empty
// string becomes a pair of single quotes.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument with Quote and joins them with spaces, so that the shell splits
// the result back into exactly args.
func Join(args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " ")
}

// plain are the characters Word leaves unquoted: none of them means anything to a shell.
const plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,@%+"

// Word returns s as one shell word: as it is when it holds only letters, digits and
// "_-./:=,@%+" (so generated command lines stay readable), quoted with Quote otherwise.
func Word(s string) string {
	if s != "" && strings.Trim(s, plain) == "" {
		return s
	}
	return Quote(s)
}
