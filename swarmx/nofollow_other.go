//go:build !unix

package swarmx

// oNoFollow is not available here; writeNoFollow's Lstat check still refuses links.
const oNoFollow = 0
