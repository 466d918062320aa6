//go:build !linux

package main

import "os"

// Off Linux the password is read from stdin as a line, as from a pipe.
func isTerminal(*os.File) bool { return false }

func readHidden(f *os.File) (string, error) { return readPasswordLine(f) }
